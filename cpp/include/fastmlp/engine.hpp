// Engine<T>: what one training step needs from the hardware that runs it.
//
// The training loop (trainer.hpp) is written once against this interface; the
// CPU engine (CpuEngine<T>, over a Network<T>) and the CUDA engine
// (cuda::make_engine(net), fastmlp/cuda.hpp) implement it. So every rule of the
// loop (batch order, schedules, validation, early stopping, the tol rule,
// callbacks, Ctrl-C, divergence, gradient norms, sample weights, dropout masks)
// is the same on every engine by construction.
//
// One step, in the lecture's order:
//   bring_batch(start, rows)   the rows order[start, start + rows) of the training data
//   forward(dropout)           z_l = a_{l-1} W_l + b_l,  a_l = g_l(z_l)
//   output_error(j)            J_j (L2 term included) into loss slot j, and delta_L = p - y
//   backprop(sgd_rate)         delta_{l-1} = (delta_l W_l^T) * g'(z_{l-1}),  dW_l = a_{l-1}^T delta_l,
//                              db_l = sum_rows delta_l   (sgd_rate > 0: the fused SGD update instead)
//   optimizer.step(params(), grads(), P)
//
// The host network (host()) is the truth for the shapes, the loss, l2 and the
// checks of inputs and targets; its parameter buffer holds the weights between
// calls (an engine with its own memory copies them in at begin_fit / before a
// call, when they changed, and back at end_fit).
#pragma once

#include <functional>
#include <memory>

#include "fastmlp/losses.hpp"
#include "fastmlp/network.hpp"
#include "fastmlp/optimizers.hpp"
#include "fastmlp/random.hpp"

namespace fastmlp {

// Validation data (not owned); X null means none. X is rows x n_inputs(), contiguous.
template <class T>
struct Validation {
  const T* X = nullptr;
  Index rows = 0;
  Targets<T> Y;
};

template <class T>
class Engine {
 public:
  virtual ~Engine() = default;

  virtual Network<T>& host() = 0;
  virtual const char* name() const = 0;  // "cpu", "cuda"

  // --- calls outside training (validated) ---
  // A_L of X, X.rows() x n_outputs() row-major, into out.
  virtual void forward(const ConstRef<T>& X, T* out) = 0;
  // J (L2 term included, no dropout); `norm`: batch normalization by the running statistics
  // (Inference) or by the batch's (Batch, as in training, the running statistics unchanged).
  virtual T objective(const ConstRef<T>& X, const Targets<T>& Y, NormMode norm) = 0;
  // dJ/dparams into host().grads(); returns J.
  virtual T gradients(const ConstRef<T>& X, const Targets<T>& Y, NormMode norm) = 0;

  // --- the steps of fit() (unchecked: fit validates once) ---
  // Takes the data of one fit (host memory, validated); the engine may copy it.
  virtual void begin_fit(const ConstRef<T>& X, const Targets<T>& Y, const Validation<T>& validation) = 0;
  // Replaces the training data (a chunk of a larger data set; validation stays).
  virtual void set_data(const ConstRef<T>& X, const Targets<T>& Y) = 0;
  // J (L2 included, no dropout) and, when asked, the correct predictions of X, Y (validated).
  virtual T evaluate(const ConstRef<T>& X, const Targets<T>& Y, Index* correct) = 0;
  // Hands the weights back to the host network (after training, divergence or Ctrl-C).
  virtual void end_fit() = 0;
  // This epoch's sample order (X.rows() entries), or nullptr for the rows in order.
  virtual void set_order(const Index* order) = 0;
  virtual void bring_batch(Index start, Index rows) = 0;
  virtual void forward(const DropoutDraw& dropout) = 0;
  virtual void output_error(Index j) = 0;
  virtual void backprop(T sgd_rate) = 0;
  // forward, output_error(j) and backprop(sgd_rate) of one step (the CPU engine: Network::train_step, in
  // row blocks where the network runs so).
  virtual void train_step(const DropoutDraw& dropout, Index j, T sgd_rate) {
    forward(dropout);
    output_error(j);
    backprop(sgd_rate);
  }
  // Adds ||dW_l||_F of the latest backprop to sums[l]; false when the engine cannot.
  virtual bool add_grad_norms(double* sums) = 0;
  // The flat parameter / gradient buffers in the engine's memory, for optimizer.step.
  virtual T* params() = 0;
  virtual T* grads() = 0;
  // An optimizer that steps the buffers above (fresh state); its memory() is the engine's.
  virtual std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerSpec& spec) = 0;
  virtual const void* memory() const { return nullptr; }  // nullptr: host memory
  // Loss slots: reserve n of them; read slots [first, n) into losses[first, n), and the
  // correct predictions counted since the last read (then zeroed). True when a batch loss is known right after its
  // step (the loop then checks it at once); false when it is read at the epoch's end.
  virtual void reserve_losses(Index n) = 0;
  virtual void read_losses(Index first, Index n, T* losses, Index* correct) = 0;
  virtual bool losses_at_once() const = 0;
  // J of validation rows [start, start + rows) (no dropout) and, when asked, the correct predictions.
  virtual T evaluate_validation(Index start, Index rows, Index* correct) = 0;
  // Data parallelism: gradient buffer <- scale * (this batch's gradient, or 0 without rows),
  // then sum(buffer, P) adds those of all processes (host memory; a device engine stages it).
  virtual void reduce_grads(bool have_rows, T scale, const std::function<void(T*, Index)>& sum) = 0;
  // Copies of the parameters in kCopies slots (the loop keeps the starts of this and the
  // previous epoch in slots 0 and 1, early stopping's best in slot 2).
  static constexpr int kCopies = 3;
  virtual void save_params(int copy) = 0;
  virtual void restore_params(int copy) = 0;
  virtual bool params_finite() = 0;
};

// The CPU engine: the steps of a Network<T> in host memory, with the batch gathered
// from the rows of X by the epoch's order. Holds a reference to the network.
template <class T>
class CpuEngine final : public Engine<T> {
 public:
  explicit CpuEngine(Network<T>& net) : net_(net) {}

  Network<T>& host() override { return net_; }
  const char* name() const override { return "cpu"; }

  void forward(const ConstRef<T>& X, T* out) override;
  T objective(const ConstRef<T>& X, const Targets<T>& Y, NormMode norm) override { return net_.objective(X, Y, norm); }
  T gradients(const ConstRef<T>& X, const Targets<T>& Y, NormMode norm) override { return net_.gradients(X, Y, norm); }

  void begin_fit(const ConstRef<T>& X, const Targets<T>& Y, const Validation<T>& validation) override;
  void end_fit() override {}
  void set_data(const ConstRef<T>& X, const Targets<T>& Y) override;
  T evaluate(const ConstRef<T>& X, const Targets<T>& Y, Index* correct) override {
    net_.validate(X, Y);
    return net_.evaluate_unchecked(X, Y, correct);
  }
  void set_order(const Index* order) override { order_ = order; }
  void bring_batch(Index start, Index rows) override;
  void forward(const DropoutDraw& dropout) override { net_.forward_pass(batch_X(), dropout); }
  void output_error(Index j) override;
  void backprop(T sgd_rate) override { net_.backprop(batch_X(), sgd_rate); }
  void train_step(const DropoutDraw& dropout, Index j, T sgd_rate) override;
  bool add_grad_norms(double* sums) override;
  T* params() override { return net_.params(); }
  T* grads() override { return net_.grads(); }
  std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerSpec& spec) override {
    return fastmlp::make_optimizer<T>(spec);
  }
  void reserve_losses(Index n) override { losses_.resize(std::size_t(n)); }
  void read_losses(Index first, Index n, T* losses, Index* correct) override;
  bool losses_at_once() const override { return true; }
  T evaluate_validation(Index start, Index rows, Index* correct) override;
  void reduce_grads(bool have_rows, T scale, const std::function<void(T*, Index)>& sum) override;
  // The parameters and the running statistics (they belong together).
  void save_params(int copy) override {
    saved_[copy] = params_map();
    saved_state_[copy] = state_map();
  }
  void restore_params(int copy) override {
    params_map() = saved_[copy];
    state_map() = saved_state_[copy];
  }
  // The running statistics too, as the CUDA engine checks them.
  bool params_finite() override { return all_finite(params_map()) && all_finite(state_map()); }

 private:
  Eigen::Map<Vector<T>> params_map() { return {net_.params(), net_.num_params()}; }
  Eigen::Map<Vector<T>> state_map() { return {net_.state(), net_.num_state()}; }
  using StridedMap = Eigen::Map<const Matrix<T>, 0, Eigen::OuterStride<>>;
  StridedMap batch_X() const { return StridedMap(bX_, rows_, net_.n_inputs(), Eigen::OuterStride<>(bld_)); }

  Network<T>& net_;
  // This fit's data (not owned) and the current batch: a slice of X, or rows gathered by order_.
  const T* X_ = nullptr;
  Index ld_ = 0;
  Targets<T> Y_;
  Validation<T> val_;
  const Index* order_ = nullptr;
  const T* bX_ = nullptr;
  Index bld_ = 0, rows_ = 0;
  Targets<T> bY_;
  Matrix<T> gX_, gY_;
  std::vector<std::int32_t> glabels_;
  Vector<T> gw_;
  std::vector<T> losses_;
  Index correct_ = 0;
  Vector<T> saved_[Engine<T>::kCopies], saved_state_[Engine<T>::kCopies];
};

extern template class CpuEngine<float>;
extern template class CpuEngine<double>;

}  // namespace fastmlp
