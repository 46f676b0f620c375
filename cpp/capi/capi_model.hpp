// What the C API's handles hold (fastmlp/fastmlp.h): a loaded model, and a workspace that predicts
// with it. Internal to libfastmlp_c: nothing here crosses the C interface.
//
// A model is the Network read from the file (its parameters, read-only from then on) and what the
// metadata says about it. A workspace is a LayerStack of its own (each layer's output buffers,
// sized for max_rows rows when the workspace is made) bound to the model's parameters, which the
// inference pass only reads: so any number of workspaces predict at once, with no lock and no
// allocation, and the parameters exist once however many threads predict. (A quantized int8 layer
// packs the model's int8 weights into its own panels when the workspace is made: one copy of those
// per workspace, written before any call and only read by it, so workspaces never share a write.)
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "dense_row.hpp"
#include "fastmlp/fastmlp.h"
#include "fastmlp/serialize.hpp"

namespace fastmlp::capi {

// The class labels and the feature names of a model file (read_labels, labels.cpp).
struct Labels {
  std::vector<std::string> classes;        // the stored labels, or the ids "0".."n-1"
  std::vector<std::string> feature_names;  // empty: none stored
};

// How many labels a model's outputs stand for (what Python's TargetSpec.n_labels says): 2 for one
// sigmoid output, one per softmax output, else 0 (regression and multi-label take no labels).
std::size_t n_labels(Loss loss, std::size_t n_outputs);

// The "classes" and "feature_names_in" entries of the metadata, read by the C++ API's class_names and
// feature_names (fastmlp/serialize.hpp), so the labels read as in C++ and Python; a multi-label model's
// classes are its output ids "0".."n-1" (Python's classes_). Throws std::invalid_argument ("not a valid
// fastmlp model file: ...") for an entry that is not what fastmlp writes; memory is bounded by the labels.
Labels read_labels(const Metadata& meta, Loss loss, std::size_t n_outputs, std::size_t n_inputs);

// Sets this thread's message (fastmlp_last_error) to "<where>: <msg>" and returns status (fastmlp_c.cpp).
fastmlp_status fail(fastmlp_status status, const char* where, const char* msg);

// What a predict call writes: the output activations, the class probabilities or the class ids.
enum class Want { Outputs, Proba, Class };

// The inference pass of one workspace, for a network of T.
template <class T>
class Inference {
 public:
  Inference(const Network<T>& net, Index max_rows);
  Inference(const Inference&) = delete;  // the layers point at each other's buffers: made in place, never moved
  Inference& operator=(const Inference&) = delete;
  Index max_rows() const { return max_rows_; }
  Index n_inputs() const { return n_in_; }
  Index n_outputs() const { return n_out_; }
  // A buffer of max_rows x n_inputs for inputs converted to T.
  T* input_buffer() { return x_.data(); }
  // Throws std::invalid_argument naming X[i, j] (i counted from row0) unless the m rows of x are
  // finite and the first layer takes them (an Embedding's integer codes).
  void check(const T* x, Index m, std::size_t row0) const;
  // The output activations a_L of m <= max_rows rows of x (m x n_inputs): m x n_outputs values in the
  // workspace, valid until the next call; throws std::invalid_argument when they are NaN. Allocates
  // nothing, takes no lock. One row of a chain of plain Dense layers (and Dropouts, the identity here)
  // goes through the row kernel (dense_row.hpp), any other call through the LayerStack pass. A
  // mixed_bfloat16 model (Network::mixed_bf16) always takes the pass: its products round their operands.
  const T* forward(const T* x, Index m, std::size_t row0);

 private:
  bool mixed_bf16_;              // the model's: read by ops_ (before it: initialised first)
  std::unique_ptr<Ops<T>> ops_;  // before stack_: the layers' buffers are released through it
  LayerStack<T> stack_;
  Activation g_;  // the output activation (the loss's)
  T alpha_;
  Index max_rows_, n_in_, n_out_;
  Vector<T> x_, a_;                // converted inputs; the output activations
  std::vector<DenseRow<T>> rows_;  // the Dense chain for one row; empty: the model is not one
  DenseRowKernel<T> row_kernel_ = nullptr;
  Vector<T> h_;  // two hidden rows (the row kernel's input and output alternate between them)
};

extern template class Inference<float>;
extern template class Inference<double>;

}  // namespace fastmlp::capi

struct fastmlp_model {
  std::variant<fastmlp::Network<float>, fastmlp::Network<double>> network;
  fastmlp::Loss loss;
  std::size_t n_inputs, n_outputs, n_classes;
  fastmlp_task task;
  fastmlp::capi::Labels labels;
  fastmlp::RawColumns columns;  // the raw columns of the *_text functions (text_rows.cpp)
};

struct fastmlp_workspace {
  template <class T>
  fastmlp_workspace(const fastmlp_model* m, const fastmlp::Network<T>& net, fastmlp::Index max_rows)
      : model(m), inference(std::in_place_type<fastmlp::capi::Inference<T>>, net, max_rows) {}
  const fastmlp_model* model;
  std::variant<fastmlp::capi::Inference<float>, fastmlp::capi::Inference<double>> inference;
  std::atomic_flag busy = ATOMIC_FLAG_INIT;  // set while a call runs: a second thread gets FASTMLP_ERR_BUSY
};

namespace fastmlp::capi {

// m rows of output activations a into out, as every predict function writes them (Want::Outputs,
// Proba: U values; Class: int32_t).
template <class T, class V>
void write(const fastmlp_model& model, Want want, const T* a, Index m, V* out) {
  const Index k = Index(model.n_outputs);
  const bool one_sigmoid = model.loss == Loss::BinaryCrossentropy && k == 1;
  if (want == Want::Class) {
    for (Index i = 0; i < m; ++i) {
      const T* row = a + i * k;
      out[i] = one_sigmoid ? V(row[0] >= T(0.5)) : V(std::max_element(row, row + k) - row);  // the first maximum
    }
  } else if (want == Want::Proba && one_sigmoid) {
    for (Index i = 0; i < m; ++i) out[2 * i] = V(T(1) - a[i]), out[2 * i + 1] = V(a[i]);
  } else {
    for (Index j = 0; j < m * k; ++j) out[j] = V(a[j]);
  }
}

}  // namespace fastmlp::capi
