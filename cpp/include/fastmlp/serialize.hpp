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
// file, ...) and for model bytes given as a null pointer with a size, and std::system_error when
// the file cannot be opened or read. Time and memory are linear in the file size; nothing much
// larger than the file is allocated.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "fastmlp/network.hpp"
#include "fastmlp/raw_rows.hpp"

namespace fastmlp {

// The format version written into "fastmlp_format" and the only one read.
inline constexpr const char* kFormatVersion = "1";
// Headers longer than this are refused before they are read (the safetensors limit).
inline constexpr std::size_t kMaxHeaderBytes = 100000000;

// __metadata__ entries (all strings, as safetensors requires).
using Metadata = std::map<std::string, std::string>;

// Loads a model file. When the file's dtype (float32 / float64) differs from T the
// parameters are converted. A mixed_bfloat16 file (metadata "dtype_policy", on float32) loaded in
// float runs its products with bf16-rounded operands (Network::set_mixed_bf16), as Python's fm.load
// does; loaded in double it computes in float64. A quantized (int8) model computes in float32 only:
// loading it in double throws std::invalid_argument. Every loader below follows the same rules.
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
  // class_names / feature_names (below) of this file.
  std::vector<std::string> classes() const;
  std::vector<std::string> feature_names() const;
};
ModelFile read_model_file(const std::string& path);
ModelFile read_model_bytes(const unsigned char* data, std::size_t size);

// ---- what a model predicts on raw rows: its class names and column names
//
// Python keeps a classifier's labels and a DataFrame's column names in the metadata
// (python/fastmlp/_persist.py): "classes" {"dtype": "<U6", "values": ["cat", "dog", "parrot"]}
// and "feature_names_in" ["sepal length", ...]. Both are optional; reading a file never depends on
// them (these functions read them when asked).

// The class names of a classifier in class-id order, as Python prints model.classes_'s elements
// (str(label)): strings as they are (bytes labels as their Latin-1 text, in UTF-8), integers in
// decimal ("3", "7", "9"), booleans "True" / "False", floats as numpy prints them ("0.5", "1.0",
// "1e-05"; float32 / float16 labels in their own shortest form). A classifier whose
// file has no "classes" entry predicts class ids: "0" .. "k-1". Empty for a model that predicts no
// class: regression, several sigmoid outputs (multi-label). k is two for one sigmoid output, else
// the number of softmax outputs. Throws std::invalid_argument (naming the entry) when "classes" is
// malformed or does not list k labels.
std::vector<std::string> class_names(const Metadata& metadata, Loss loss, Index n_outputs);
// The input columns' names (Python's feature_names_in_), n_inputs of them; empty when the file has
// none. Throws std::invalid_argument when the entry is malformed or does not hold n_inputs names.
std::vector<std::string> feature_names(const Metadata& metadata, Index n_inputs);

// A model file loaded for predictions in T (float or double; the parameters converted as by
// load_network), with its metadata and the names above. Its normalization layers are part of
// `network`: X holds raw rows, in the order of `feature_names` when the file has them. A model
// fitted on a DataFrame with text columns (a ColumnEmbedding) takes X encoded (codes, missing
// indicators); its raw rows, a text cell per DataFrame column, go through the *_rows functions,
// which encode them as Python does (fastmlp/raw_rows.hpp: numbers, categories, missing cells).
template <class T>
struct Model {
  Network<T> network;
  Metadata metadata;
  std::vector<std::string> classes;        // class_names(): empty for regression and multi-label
  std::vector<std::string> feature_names;  // feature_names(): empty when the file has none
  RawColumns columns;                      // the raw columns (the vocabulary's, else one per input)

  // The raw columns' names, in the order the *_rows functions take the cells: the DataFrame's columns
  // at the first fit (a CSV header's names; feature_names for a model of numbers only; empty when the
  // file has no names: the cells are the inputs in order).
  const std::vector<std::string>& column_names() const { return columns.names(); }
  // X (rows x network.n_inputs()) of raw rows of text cells (fastmlp/raw_rows.hpp). Throws
  // std::invalid_argument naming the row (counted from 0) and column of a cell it cannot take.
  Matrix<T> encode_rows(const std::vector<RawRow>& rows) const;
  // forward(encode_rows(rows)): the outputs (a regressor's predictions, a classifier's probabilities).
  MatrixMap<T> predict_rows(const std::vector<RawRow>& rows);
  // predict_class(encode_rows(rows)): the class name of each raw row (Python's predict on the DataFrame).
  std::vector<std::string> predict_class_rows(const std::vector<RawRow>& rows);

  bool is_classifier() const { return !classes.empty(); }
  // The outputs a_L (m x n_outputs) of the rows of X (network.forward: probabilities for a classifier).
  MatrixMap<T> forward(const ConstRef<T>& X) { return network.forward(X); }
  // The class id of each row of X, as Python's predict: the arg-max of the softmax outputs (the
  // first of equal maxima), or 1 where one sigmoid output is >= 0.5. Throws std::invalid_argument
  // for a model that predicts no class (is_classifier() false) and for X as network.forward does.
  std::vector<Index> predict_ids(const ConstRef<T>& X);
  // The class name of each row of X: classes[predict_ids(X)[i]] (Python's predict(X), as text).
  std::vector<std::string> predict_class(const ConstRef<T>& X);
};

// Loads a model file (or its bytes) with its class and column names. Throws as load_network, and
// std::invalid_argument when "classes", "feature_names_in" or a ColumnEmbedding's vocabulary is malformed.
template <class T>
Model<T> load_model(const std::string& path);
template <class T>
Model<T> load_model_bytes(const unsigned char* data, std::size_t size);

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
