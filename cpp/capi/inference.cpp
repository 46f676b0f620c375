// The C API's inference pass (capi_model.hpp): a workspace's own LayerStack over the model's
// parameters, run on the calling thread with buffers sized when the workspace was made.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "capi_model.hpp"
#include "fastmlp/activations.hpp"
#include "fastmlp/threads.hpp"

namespace fastmlp::capi {

namespace {

// The layers of `stack` as Dense rows over `params` when every one is a plain (float) Dense layer or a
// Dropout; else none.
template <class T>
std::vector<DenseRow<T>> dense_chain(const LayerStack<T>& stack, const T* params) {
  std::vector<DenseRow<T>> rows;
  std::vector<TensorSlot> slots;
  for (Index i = 0; i < stack.size(); ++i) {
    const Layer<T>& layer = stack[i];
    if (std::strcmp(layer.type(), "Dropout") == 0) continue;  // the identity in an inference pass
    slots.clear();
    layer.tensors("", slots);
    if (std::strcmp(layer.type(), "Dense") != 0 || slots.size() != 2 || slots[0].name != "weight" || slots[0].int8 ||
        slots[1].name != "bias")
      return {};
    double alpha = 0.0;
    const Activation g = layer.output_activation(&alpha);
    rows.push_back({params + slots[0].offset, params + slots[1].offset, layer.n_in(), layer.n_out(), g, T(alpha)});
  }
  return rows;
}

}  // namespace

template <class T>
Inference<T>::Inference(const Network<T>& net, Index max_rows)
    : mixed_bf16_(net.mixed_bf16()),
      ops_(make_cpu_ops<T>(&mixed_bf16_)),
      stack_(net.configs(), net.n_inputs()),
      max_rows_(max_rows),
      n_in_(net.n_inputs()),
      n_out_(net.n_outputs()) {
  Index n_params = 0, n_state = 0;
  stack_.layout(n_params, n_state);
  if (n_params != net.num_params() || n_state != net.num_state())
    throw std::logic_error("fastmlp C API: the workspace's layers do not lay out as the model's");
  // The model's parameters, shared by every workspace: an inference pass only reads them (it writes
  // no gradient, and in NormMode::Inference no running statistic), so the gradients' slot gets them too.
  T* params = const_cast<T*>(net.params());
  stack_.bind(params, params, const_cast<T*>(net.state()));
  double alpha = 0.0;
  g_ = stack_[stack_.size() - 1].output_activation(&alpha);
  alpha_ = T(alpha);
  x_ = Vector<T>::Zero(max_rows * n_in_);
  a_ = Vector<T>::Zero(max_rows * n_out_);
  if (!mixed_bf16_) rows_ = dense_chain(stack_, net.params());
  if (!rows_.empty()) {
    Index width = 0;
    for (const DenseRow<T>& r : rows_) width = std::max(width, r.N);
    h_ = Vector<T>::Zero(2 * width);
    row_kernel_ = dense_row_kernel<T>();
  }
  // One pass of max_rows rows (zeros: valid inputs for every layer, an Embedding's code 0 too), so that
  // every layer's buffer has its full size now and no later call allocates.
  forward(x_.data(), max_rows, 0);
}

template <class T>
void Inference<T>::check(const T* x, Index m, std::size_t row0) const {
  if (!all_finite(x, m * n_in_)) {
    Index k = 0;
    while (std::isfinite(x[k])) ++k;
    throw std::invalid_argument("X[" + std::to_string(row0 + std::size_t(k / n_in_)) + ", " +
                                std::to_string(k % n_in_) + "] is NaN or infinite" +
                                (sizeof(T) == 4 ? " as a float32 (the model's dtype)" : ""));
  }
  try {
    stack_[0].check_inputs(x, m, n_in_);  // an Embedding's codes; its message counts rows from 0
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(row0 ? std::string(e.what()) + " of the rows from X[" + std::to_string(row0) + "] on"
                                     : std::string(e.what()));
  }
}

template <class T>
const T* Inference<T>::forward(const T* x, Index m, std::size_t row0) {
  const CallerThreadOnly one_thread;  // no pool, no lock: the program's threads predict side by side
  if (m == 1 && !rows_.empty()) {     // the last layer's activation is the loss's: the kernel applies it
    const T* in = x;
    for (std::size_t l = 0; l < rows_.size(); ++l) {
      T* out = l + 1 == rows_.size() ? a_.data() : h_.data() + Index(l % 2) * (h_.size() / 2);
      row_kernel_(rows_[l], in, out);
      in = out;
    }
  } else {
    Pass<T> p{*ops_, m, {}, T(0), T(0), &stack_[stack_.size() - 1], nullptr};  // inference: no dropout
    const T* z = stack_.forward(p, x, n_in_);  // the output layer leaves z_L: the loss's activation is ours
    std::memcpy(a_.data(), z, sizeof(T) * std::size_t(m * n_out_));
    activate<T>(g_, alpha_, MatrixMap<T>(a_.data(), m, n_out_));
  }
  for (Index k = 0; k < m * n_out_; ++k)
    if (std::isnan(a_[k]))  // as Network::validate_outputs: finite inputs whose values overflow inside
      throw std::invalid_argument(
          "X: the network's outputs are NaN for row " + std::to_string(row0 + std::size_t(k / n_out_)) +
          ": the inputs are finite but their values overflow " + (sizeof(T) == 4 ? "float32" : "float64") +
          " inside the layers (scale or standardize the inputs)");
  return a_.data();
}

template class Inference<float>;
template class Inference<double>;

}  // namespace fastmlp::capi
