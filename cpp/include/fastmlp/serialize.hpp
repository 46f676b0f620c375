// Model files: safetensors files with fastmlp's metadata. This is the one implementation
// of the format; Python's fastmlp.io calls it through the bindings.
//
//   8 bytes    N, little-endian uint64: the header length
//   N bytes    JSON header, padded with spaces to a multiple of 8 bytes:
//                {"__metadata__": {"fastmlp_format": "1", "fastmlp_version": "<version>", "dtype": "float32",
//                                  "loss": "mse", "l2": "0.0", "layers": "[...]", ...},
//                 "layers.0.weight": {"dtype": "F32", "shape": [n_in, n_out], "data_offsets": [begin, end]},
//                 "layers.0.bias": {...}, ...}
//   the rest   the tensors, little-endian, row-major, tiling the data exactly
//
// "layers" is a JSON list with one entry per layer of the Python model:
//   {"type": "Dense", "n_in": 4, "n_out": 8, "activation": "relu", "alpha": null[, "init": "he_normal"]}
//   {"type": "Dropout", "rate": 0.5}
// Tensor names use the layer's position in that list (a Dropout takes a position but has no
// tensors); here a Dropout becomes the `dropout` rate of the Dense layer before it (as in
// fastmlp.Sequential: a Dropout must follow a Dense layer and cannot be last). Weights are
// stored (n_in, n_out). Metadata entries other than the ones above ("seed", "optimizer",
// "epochs_trained", ... that Python keeps there) are passed through untouched: written from
// `extra`, returned in `metadata`. "seed", when present, must be an integer in [0, 2^64).
//
// Reading throws std::invalid_argument with a message naming the problem for any malformed,
// truncated or hostile file (bad JSON, offsets outside the data, overlapping tensors, shapes
// that disagree with the architecture, unknown format version, a path that is not a regular
// file, ...), and std::system_error when the file cannot be opened or read. Time and memory are
// linear in the file size; nothing much larger than the file is allocated.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <variant>

#include "fastmlp/network.hpp"

namespace fastmlp {

// The format version written into "fastmlp_format" and the only one read.
inline constexpr const char* kFormatVersion = "1";
// Headers longer than this are refused before they are read (the safetensors limit).
inline constexpr std::size_t kMaxHeaderBytes = 100000000;

// __metadata__ entries (all strings, as safetensors requires).
using Metadata = std::map<std::string, std::string>;

// Loads a model file. When the file's dtype (float32 / float64) differs from T the
// parameters are converted.
template <class T>
Network<T> load_network(const std::string& path);

// Writes `net` to `path` atomically (see write_file_atomic). `extra` entries go into the
// metadata beside fastmlp's own (whose keys they may not use).
template <class T>
void save_network(const Network<T>& net, const std::string& path, const Metadata& extra = {});

// A model file as it was stored: the network in the file's dtype and all of its metadata.
struct ModelFile {
  std::variant<Network<float>, Network<double>> network;
  Metadata metadata;
};
ModelFile read_model_file(const std::string& path);
ModelFile read_model_bytes(const unsigned char* data, std::size_t size);

// The bytes save_network writes.
template <class T>
std::string model_file_bytes(const Network<T>& net, const Metadata& extra = {});

// Replaces `path` by `bytes` atomically: a temporary file in the same folder, written,
// fsync-ed, then renamed over `path` (a symlink is followed: its target is replaced). Readers
// see the old file or the whole new one; any failure leaves the old file intact. An existing
// file keeps its permissions. Temporary files left by killed processes are removed. Throws
// std::invalid_argument when `path` exists and is not a regular file, std::system_error
// when writing fails.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace fastmlp
