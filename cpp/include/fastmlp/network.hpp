// Network<T>: an ordered stack of dense layers and a loss.
//
// Layer l computes  Z_l = A_{l-1} W_l + 1 b_l,  A_l = g_l(Z_l),  A_0 = X,
// with W_l stored (n_in x n_out) row-major, exactly the NumPy shape.
// All parameters live in ONE contiguous buffer [W_1, b_1, W_2, b_2, ...]; the
// gradients in a second buffer with the same layout. W(l), b(l), dW(l), db(l)
// are views into them, so optimizers are one loop and Python sees the weights
// without copies.
//
// Objective:  J = loss(A_L, Y) + (l2 / 2) sum_l ||W_l||_F^2   (biases are not penalised;
// the loss is the batch mean, see losses.hpp, the L2 term is not divided by m).
// Backprop (the seeds' delta recursion), with delta_L from output_loss():
//   dW_l = A_{l-1}^T delta_l + l2 W_l,   db_l = sum_rows delta_l,
//   delta_{l-1} = (delta_l W_l^T) * g'_{l-1}(Z_{l-1}).
//
// Every public member validates its input and throws std::invalid_argument.
// Workspaces grow to the largest batch seen and are reused: a training step
// allocates nothing once the first batch of that size has run.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "fastmlp/activations.hpp"
#include "fastmlp/losses.hpp"
#include "fastmlp/types.hpp"

namespace fastmlp {

struct LayerSpec {
  Index n_in = 0;
  Index n_out = 0;
  Activation activation = Activation::Linear;
};

template <class T>
class Network {
 public:
  Network(std::vector<LayerSpec> layers, Loss loss, T l2 = T(0));

  const std::vector<LayerSpec>& layers() const { return layers_; }
  Index num_layers() const { return Index(layers_.size()); }
  Loss loss() const { return loss_; }
  T l2() const { return l2_; }
  void set_l2(T l2);
  Index n_inputs() const { return layers_.front().n_in; }
  Index n_outputs() const { return layers_.back().n_out; }

  // Flat parameter and gradient buffers (num_params() entries each).
  Index num_params() const { return Index(params_.size()); }
  T* params() { return params_.data(); }
  const T* params() const { return params_.data(); }
  T* grads() { return grads_.data(); }
  const T* grads() const { return grads_.data(); }
  Index weight_offset(Index l) const { return offsets_[l]; }
  Index bias_offset(Index l) const { return offsets_[l] + layers_[l].n_in * layers_[l].n_out; }
  MatrixMap<T> W(Index l) { return {params_.data() + weight_offset(l), layers_[l].n_in, layers_[l].n_out}; }
  RowVectorMap<T> b(Index l) { return {params_.data() + bias_offset(l), layers_[l].n_out}; }
  MatrixMap<T> dW(Index l) { return {grads_.data() + weight_offset(l), layers_[l].n_in, layers_[l].n_out}; }
  RowVectorMap<T> db(Index l) { return {grads_.data() + bias_offset(l), layers_[l].n_out}; }

  // Weights uniform in +-sqrt(6 / (n_in + n_out)) (Glorot), +-sqrt(6 / n_in) for
  // relu layers (He); biases zero. Same seed, same weights.
  void init_params(std::uint64_t seed);

  // Output activations A_L (m x n_outputs). The view stays valid until the next call.
  MatrixMap<T> forward(const ConstRef<T>& X);
  // Mean loss J with the L2 term.
  T objective(const ConstRef<T>& X, const Targets<T>& Y);
  // Fills grads() with dJ/dparams and returns J (computed in the same pass).
  T gradients(const ConstRef<T>& X, const Targets<T>& Y);
  // Per layer: (Z_l, A_l), copies.
  std::vector<std::pair<Matrix<T>, Matrix<T>>> trace(const ConstRef<T>& X);

  // The same, without validating X and Y (the trainer checks once per fit).
  MatrixMap<T> forward_unchecked(const ConstRef<T>& X);
  T gradients_unchecked(const ConstRef<T>& X, const Targets<T>& Y);

  // Throws std::invalid_argument unless X is non-empty, finite, with n_inputs() columns.
  void validate_inputs(const ConstRef<T>& X) const;
  void validate(const ConstRef<T>& X, const Targets<T>& Y) const;

 private:
  void reserve(Index m);
  MatrixMap<T> act(Index l, Index m) { return {A_[l].data(), m, layers_[l].n_out}; }
  MatrixMap<T> delta(Index l, Index m) { return {D_[l].data(), m, layers_[l].n_out}; }
  // Z_L of the output layer (bias added, not yet activated) into act(L-1).
  void forward_to_logits(const ConstRef<T>& X);
  T l2_penalty() const;

  std::vector<LayerSpec> layers_;
  Loss loss_;
  T l2_;
  std::vector<Index> offsets_;
  Vector<T> params_, grads_;
  std::vector<Matrix<T>> A_, D_;  // per-layer activations and deltas, capacity_ rows
  Index capacity_ = 0;
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace fastmlp
