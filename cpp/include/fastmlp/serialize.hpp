// Model files: the safetensors format that Python's fastmlp.io writes and reads.
//
//   8 bytes    N, little-endian uint64: the header length
//   N bytes    JSON header: {"layers.0.weight": {"dtype": "F32", "shape": [n_in, n_out],
//                                                "data_offsets": [begin, end]}, ...,
//                            "__metadata__": {"fastmlp_format": "1", "dtype": "float32",
//                                             "loss": "mse", "l2": "0.0", "layers": "[...]", ...}}
//   the rest   the tensors, little-endian, row-major, tiling the data exactly
//
// Tensor names use the layer's position in the Python model's layer list, where a
// Dropout layer takes a position of its own ({"type": "Dropout", "rate": p} in the
// "layers" metadata); here a Dropout becomes the `dropout` rate of the Dense layer
// before it (as in fastmlp.Sequential: a Dropout must follow a Dense layer and
// cannot be last). The Python-only training state in the metadata ("seed",
// "optimizer", "epochs_trained") is ignored here (the seed is checked) and not
// written by save_network. See python/fastmlp/io.py for the full description.
//
// Both functions throw std::invalid_argument with a message naming the problem for
// any malformed, truncated or hostile file (bad JSON, offsets outside the data,
// overlapping tensors, shapes that disagree with the architecture, unknown format
// version, ...), and std::runtime_error when the file cannot be opened or written.
// Nothing larger than the file itself is ever allocated.
#pragma once

#include <string>

#include "fastmlp/network.hpp"

namespace fastmlp {

// The format version written into "fastmlp_format" and the only one read.
inline constexpr const char* kFormatVersion = "1";

// Loads a model file. When the file's dtype (float32 / float64) differs from T the
// parameters are converted.
template <class T>
Network<T> load_network(const std::string& path);

// Writes `net` to `path` atomically: a temporary file in the same folder, flushed
// and fsync-ed, then renamed over `path`. A failed save leaves an existing file intact.
template <class T>
void save_network(const Network<T>& net, const std::string& path);

extern template Network<float> load_network<float>(const std::string&);
extern template Network<double> load_network<double>(const std::string&);
extern template void save_network<float>(const Network<float>&, const std::string&);
extern template void save_network<double>(const Network<double>&, const std::string&);

}  // namespace fastmlp
