// Network<T>: a stack of layers (layer.hpp) and a loss, in host memory.
//
// Forward pass (the lecture's notation; samples are rows, a_0 = X):
//   z_l = a_{l-1} W_l + b_l,   a_l = g_l(z_l)
// with W_l stored (n_in x n_out) row-major, exactly the NumPy shape.
// All parameters live in ONE contiguous buffer [W_1, b_1, W_2, b_2, ...]; the
// gradients in a second buffer with the same layout. W(l), b(l), dW(l), db(l)
// are views into them, so optimizers are one loop and Python sees the weights
// without copies.
//
// Objective:  J = loss(a_L, y) + (l2 / 2) sum_l ||W_l||_F^2   (biases are not penalised;
// the loss is the (weighted) batch mean, see losses.hpp; the L2 term is not divided by m).
// Output error (losses.hpp): delta_L = dJ/dz_L, (p - y) / m for softmax + cross-entropy.
// Backprop:
//   delta_{l-1} = (delta_l W_l^T) * g'_{l-1}(z_{l-1}),
//   dW_l = a_{l-1}^T delta_l + l2 W_l,   db_l = sum_rows delta_l.
// Dropout (rate p on a layer's output, training only, "inverted"): a_l is
// multiplied by a mask M of 0 and 1/(1-p) entries; the backward pass multiplies
// delta_l W_l^T by the same mask before g'.
// Normalization of a hidden layer's output (before its dropout), y = gamma * x_hat + beta with
// learned gamma, beta (n_out each, in the parameter buffer after b_l):
//   batch:  x_hat = (a - mu) / sqrt(var + eps), mu and var (biased) over the batch's rows in
//           training, the running statistics in inference; training updates
//           running = momentum running + (1 - momentum) batch  (Keras's rule and defaults)
//   layer:  x_hat = (a - mu_i) / sqrt(var_i + eps), mu_i and var_i over row i's units
// Backward, with g = dJ/dy: dgamma = sum_rows g * x_hat, dbeta = sum_rows g, and
//   batch (training):  dJ/da = gamma / sqrt(var + eps) * (g - mean_rows(g) - x_hat mean_rows(g x_hat))
//   batch (inference): dJ/da = gamma / sqrt(var + eps) * g
//   layer:             dJ/da_i = (gamma g_i - mean(gamma g_i) - x_hat_i mean(gamma g_i x_hat_i)) / sqrt(var_i + eps)
//
// The layers own their math (cpp/src/layers); the network holds the buffers and the loss, and
// runs the one layer loop (LayerStack) over the CPU's Ops. Layer indices l below (W(l), b(l), ...)
// count the Dense layers, depth first; layers() describes each as a LayerSpec (with the
// normalization and dropout that follow it, when they do).
// Every public member validates its input and throws std::invalid_argument, but
// the steps (forward_pass, output_error, backprop), which the trainer calls after
// checking the data once. Workspaces grow to the largest batch seen and are
// reused: a training step allocates nothing once the first batch of that size ran.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "fastmlp/activations.hpp"
#include "fastmlp/layer.hpp"
#include "fastmlp/losses.hpp"
#include "fastmlp/random.hpp"
#include "fastmlp/types.hpp"

namespace fastmlp {

enum class Init { Default, GlorotUniform, GlorotNormal, HeUniform, HeNormal };
Init init_from_name(const std::string& name);  // "glorot_uniform", ..., "default"
const char* init_name(Init init);

Norm norm_from_name(const std::string& name);  // "none", "batch", "layer"
const char* norm_name(Norm norm);

// A Dense layer with an optional normalization and an optional dropout of its output: the
// shorthand the C++ API builds networks from (each becomes the layers Dense, normalization,
// Dropout), and how layers() describes a network's Dense layers.
struct LayerSpec {
  Index n_in = 0;
  Index n_out = 0;
  Activation activation = Activation::Linear;
  double alpha = 0.0;           // leaky_relu slope / elu scale (see activations.hpp)
  double dropout = 0.0;         // rate p in [0, 1) applied to this layer's output during training
  Init init = Init::Default;    // Default: He-uniform for relu-like layers, Glorot-uniform otherwise
  Norm norm = Norm::None;       // normalization of this layer's output (before dropout)
  double norm_epsilon = 1e-3;   // eps in sqrt(var + eps) (Keras's default)
  double norm_momentum = 0.99;  // batch: the running statistics' momentum (Keras's default)
};

// Throws std::invalid_argument (naming n_in, n_out, dropout, alpha, epsilon or momentum) for a
// layer that cannot exist on its own: sizes not positive or too large, dropout outside [0, 1),
// alpha not finite or negative, norm epsilon not > 0, momentum outside [0, 1). Network's constructor adds the checks
// between layers.
void validate_layer(const LayerSpec& layer);
// The layer configs of a spec: Dense (, its normalization) (, Dropout).
std::vector<LayerConfig> layer_configs(const LayerSpec& spec);

// One Dense layer seen by trace(): Z, A and (when targets were given) delta = dJ/dZ.
template <class T>
struct LayerTrace {
  Matrix<T> z, a, delta;
};

// A mutex that copies as a new, unlocked one (so Network stays copyable). A process forked while
// another thread holds it (a fit running in a thread) gets it unlocked in the child, where that
// thread does not exist and would be waited for forever: network.cpp keeps the live ones in a set
// that its pthread_atfork handler walks.
struct CopyableMutex {
  std::recursive_mutex m;
  CopyableMutex();
  CopyableMutex(const CopyableMutex&) : CopyableMutex() {}
  CopyableMutex& operator=(const CopyableMutex&) { return *this; }
  ~CopyableMutex();
};

template <class T>
std::unique_ptr<Ops<T>> make_cpu_ops(const bool* mixed_bf16 = nullptr);  // cpu_ops.cpp

template <class T>
class Network {
 public:
  // Held (by the Python bindings) while a call uses the workspaces, which are shared by
  // all calls: concurrent calls from several threads take turns. Recursive, so that an
  // epoch callback may use the network it is training.
  std::recursive_mutex& busy() const { return busy_.m; }
  // Held (by the Python bindings) by a fit for its whole run, taken before busy(): the fit lets
  // busy() go around its epoch callback (so that calls from other threads, e.g. another fit's
  // callback, can run meanwhile), and another fit of this network still waits for the whole fit.
  std::recursive_mutex& fitting() const { return fitting_.m; }

  // The layers of `configs` (the model file's entries; the first layer takes n_inputs inputs, or,
  // with n_inputs < 0, as many as its config says), or of Dense layer specs.
  Network(const std::vector<LayerConfig>& configs, Index n_inputs, Loss loss, T l2 = T(0));
  Network(std::vector<LayerSpec> layers, Loss loss, T l2 = T(0));
  Network(const Network& o);
  Network& operator=(const Network&) = delete;

  // The layers, the one stack of them (stack()[i]), and the file's entries.
  const LayerStack<T>& stack() const { return stack_; }
  std::vector<LayerConfig> configs() const { return stack_.configs(); }
  // Every parameter and state tensor, named as in the model file ("layers.0.weight", ...).
  const std::vector<TensorSlot>& tensors() const { return tensors_; }
  // The Dense layers, depth first, as LayerSpecs.
  const std::vector<LayerSpec>& layers() const { return specs_; }
  Index num_layers() const { return Index(specs_.size()); }
  Loss loss() const { return loss_; }
  T l2() const { return l2_; }
  void set_l2(T l2);
  Index n_inputs() const { return stack_.n_in(); }
  Index n_outputs() const { return stack_.n_out(); }
  // dtype "mixed_bfloat16" (Network<float> only; off by default): the products of the CPU engine round
  // their operands to bfloat16 and accumulate in float32 (gemm_bf16.hpp); the parameters, optimizer
  // state, activations and deltas stay float32. Turning it on for Network<double> throws
  // std::invalid_argument. Copies keep it. The model file keeps it in Python's "dtype_policy" entry.
  bool mixed_bf16() const { return mixed_bf16_; }
  void set_mixed_bf16(bool on);
  // The output layer's activation (the loss applies it) and its alpha.
  Activation output_activation() const { return out_g_; }
  // Uniform draws per row of a training pass (the dropout masks).
  Index dropout_draws_per_row() const { return dropout_draws_; }

  // Flat parameter and gradient buffers (num_params() entries each).
  Index num_params() const { return Index(params_.size()); }
  T* params() { return params_.data(); }
  const T* params() const { return params_.data(); }
  T* grads() { return grads_.data(); }
  const T* grads() const { return grads_.data(); }
  // Dense layer l: W_l and b_l; with a normalization after it, its gamma and beta (and running
  // statistics) too.
  Index weight_offset(Index l) const { return dense_[std::size_t(l)].weight; }
  Index bias_offset(Index l) const {
    return weight_offset(l) + specs_[std::size_t(l)].n_in * specs_[std::size_t(l)].n_out;
  }
  Index norm_offset(Index l) const { return dense_[std::size_t(l)].norm; }
  bool has_norm(Index l) const { return specs_[std::size_t(l)].norm != Norm::None; }
  bool has_batch_norm() const;
  MatrixMap<T> W(Index l) { return {params_.data() + weight_offset(l), specs_[l].n_in, specs_[l].n_out}; }
  RowVectorMap<T> b(Index l) { return {params_.data() + bias_offset(l), specs_[l].n_out}; }
  MatrixMap<T> dW(Index l) { return {grads_.data() + weight_offset(l), specs_[l].n_in, specs_[l].n_out}; }
  RowVectorMap<T> db(Index l) { return {grads_.data() + bias_offset(l), specs_[l].n_out}; }
  RowVectorMap<T> gamma(Index l) { return {params_.data() + norm_offset(l), specs_[l].n_out}; }
  RowVectorMap<T> beta(Index l) { return {params_.data() + norm_offset(l) + specs_[l].n_out, specs_[l].n_out}; }

  // Batch normalization's running statistics (not trained by the optimizer; saved in the
  // model file): per batch-normalized layer, the running mean then the running variance.
  Index num_state() const { return Index(state_.size()); }
  T* state() { return state_.data(); }
  const T* state() const { return state_.data(); }
  const T* running_mean_of(Index l) const { return state_.data() + dense_[std::size_t(l)].state; }  // then the variance
  RowVectorMap<T> running_mean(Index l) { return {state_.data() + dense_[std::size_t(l)].state, specs_[l].n_out}; }
  RowVectorMap<T> running_var(Index l) {
    return {state_.data() + dense_[std::size_t(l)].state + specs_[l].n_out, specs_[l].n_out};
  }

  // Each layer's initialisation (Dense: uniform in +-sqrt(6 / fan) or normal with std
  // sqrt(2 / fan) ..., see layers/dense.cpp; biases zero; gamma 1, beta 0, running mean 0,
  // running variance 1), drawn in layer order. Same seed, same weights, on every platform.
  void init_params(std::uint64_t seed);

  // Output activations A_L (m x n_outputs), no dropout. Valid until the next call.
  MatrixMap<T> forward(const ConstRef<T>& X);
  // Mean loss J with the L2 term (no dropout). `norm`: Inference (running statistics) or
  // Batch (the batch's own, as in training; the running statistics are not changed).
  T objective(const ConstRef<T>& X, const Targets<T>& Y, NormMode norm = NormMode::Inference);
  // Fills grads() with dJ/dparams and returns J (computed in the same pass).
  T gradients(const ConstRef<T>& X, const Targets<T>& Y, NormMode norm = NormMode::Inference);
  // Per Dense layer Z, A and, when Y is given, delta (no dropout). Copies.
  std::vector<LayerTrace<T>> trace(const ConstRef<T>& X, const Targets<T>* Y = nullptr);

  // --- the steps of one training iteration, unchecked ---
  // Forward pass through the layers; the output layer keeps z_L (the loss activates it). With
  // `dropout.rng`, Dropout layers drop units (training mode). With `tracer`, every Dense layer
  // reports z and a.
  void forward_pass(const ConstRef<T>& X, const DropoutDraw& dropout = {}, Tracer<T>* tracer = nullptr);
  // Output error after forward_pass: turns z_L into a_L and returns J (L2 term included);
  // with want_delta, delta_L = dJ/dz_L (= (p - y) / m for softmax + cross-entropy); with
  // `correct` (classification losses), the count of correctly predicted rows.
  T output_error(const Targets<T>& Y, bool want_delta, Index* correct = nullptr);
  // Backprop after output_error (X: the same batch): the layers' backward passes in reverse,
  // each writing its gradients into grads(), or (sgd_rate > 0) the fused SGD update
  // W_l <- W_l - sgd_rate dW_l, b_l <- b_l - sgd_rate db_l (one pass less over the weights). `accumulate`:
  // add to grads() instead (a later row block of train_step's batch; sgd_rate 0).
  void backprop(const ConstRef<T>& X, T sgd_rate = T(0), Tracer<T>* tracer = nullptr, bool accumulate = false);

  // forward_pass + the output activation: A_L (m x n_outputs), valid until the next call.
  MatrixMap<T> forward_unchecked(const ConstRef<T>& X);
  // A training step's forward_pass + output_error + backprop (the fused SGD update with sgd_rate > 0); returns
  // J, and with `correct` the correct predictions. A batch of more than block_rows(m) rows runs as row blocks,
  // one after the other: each block's forward pass, output error (its share of the batch's mean: Targets::
  // batch_scale) and backward pass, which adds its gradients into grads() (Pass::accumulate), then the SGD
  // update of the sum. The same gradient (in another order of its sums), and each block's activations stay
  // in the core's L2 cache from one layer to the next (network.cpp has the measurements).
  T train_step(const ConstRef<T>& X, const Targets<T>& Y, const DropoutDraw& draw, T sgd_rate, Index* correct);
  // The rows of train_step's blocks for a batch of m rows (m: one block), the same on every CPU.
  Index block_rows(Index m) const;
  // forward_pass (dropout, norm mode) + output_error + backprop; returns J (and with `correct` the correct
  // predictions).
  T gradients_unchecked(const ConstRef<T>& X, const Targets<T>& Y, const DropoutDraw& pass = {}, T sgd_rate = T(0),
                        Index* correct = nullptr);
  // forward_pass + output_error without delta (no dropout); returns J.
  T evaluate_unchecked(const ConstRef<T>& X, const Targets<T>& Y, Index* correct = nullptr,
                       NormMode norm = NormMode::Inference);

  // Throws std::invalid_argument unless X is non-empty, finite, with n_inputs() columns, and what the
  // first layer checks (Layer::check_inputs: an Embedding's integer codes).
  // finite false: all but the NaN / infinity check (a fit where checks_in_training leaves it to epoch 0).
  void validate_inputs(const ConstRef<T>& X, bool finite = true) const;
  void validate(const ConstRef<T>& X, const Targets<T>& Y, bool finite = true) const;
  // Whether a training step at this batch size can check the inputs for NaN and infinity for free, as its
  // first layer converts them (a Dense first layer of a mixed bf16 network whose kernel keeps X:
  // gemm_bf16_keeps): the training loop then checks X in its first epoch (DropoutDraw::check_inputs)
  // instead of in a pass of its own before the fit, and rolls the fit back if a batch is not finite.
  bool checks_in_training(Index batch_rows) const;
  // Throws std::invalid_argument when one of the m x n_outputs() outputs A is NaN (naming X, or the
  // parameters when they are not finite).
  void validate_outputs(const T* A, Index m) const;

 private:
  void setup();
  T l2_penalty() const;
  T loss_of_rows(const Targets<T>& Y, bool want_delta, Index* correct);  // output_error without the L2 term
  Pass<T> pass(Index m) { return Pass<T>{*ops_, m, {}, T(0), l2_, &stack_[stack_.size() - 1], nullptr}; }

  // Where a Dense layer's values lie: W (then b), its normalization's gamma (then beta) and
  // running statistics (-1: none).
  struct DenseSlots {
    Index weight = 0, norm = -1, state = -1;
  };

  bool mixed_bf16_ = false;  // read by ops_ (before it: initialised first)
  std::unique_ptr<Ops<T>> ops_;
  LayerStack<T> stack_;
  Loss loss_;
  T l2_;
  std::vector<LayerSpec> specs_;
  std::vector<DenseSlots> dense_;
  std::vector<TensorSlot> tensors_;
  std::vector<std::pair<Index, Index>> weights_;  // the L2-penalised weights: (offset, count)
  Activation out_g_ = Activation::Linear;
  T out_alpha_ = T(0);
  Index dropout_draws_ = 0;
  Vector<T> params_, grads_, state_;
  Buffer<T> delta_;         // delta_L = dJ/dz_L (m x n_outputs)
  T* out_ = nullptr;        // z_L, then a_L, of the latest forward_pass (the output layer's buffer)
  Index rows_ = 0;          // rows of the latest forward_pass
  bool in_blocks_ = false;  // every layer runs_in_row_blocks (setup)
  mutable CopyableMutex busy_, fitting_;
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace fastmlp
