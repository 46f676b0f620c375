// Optimizers update the flat parameter buffer from the flat gradient buffer,
// so one step is one loop over all parameters of the network. They keep their
// state (velocity, moments, step count) between steps and between fit calls;
// reset() forgets it. The formulas are PyTorch's (torch.optim.SGD / Adam / AdamW /
// RMSprop / Adagrad). Gradient clipping (clip_value, then clip_norm over all
// parameters at once) applies to the gradient before any of them.
#pragma once

#include <memory>
#include <string>

#include "fastmlp/types.hpp"

namespace fastmlp {

// What an optimizer is: its kind and hyper-parameters. The one place where their
// defaults (sgd(), adam()) and their ranges (validate_optimizer) live; the Python
// names fm.SGD / fm.Adam and the CUDA engine build on it.
struct OptimizerSpec {
  enum class Kind { SGD, Adam, RMSprop, Adagrad };
  Kind kind = Kind::SGD;
  double learning_rate = 0.01;
  double momentum = 0.0;  // SGD
  bool nesterov = false;  // SGD
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // Adam
  bool decoupled = false;                             // Adam: AdamW
  double rho = 0.99;                                  // RMSprop: decay of the mean square (torch's alpha)
  double clip_norm = 0.0;   // > 0: g *= min(1, clip_norm / (||g|| + 1e-6)), ||g|| over all parameters (PyTorch's)
  double clip_value = 0.0;  // > 0: clamp every gradient entry to [-clip_value, clip_value]

  static OptimizerSpec sgd() { return {}; }
  static OptimizerSpec adam() {
    OptimizerSpec s;
    s.kind = Kind::Adam;
    s.learning_rate = 1e-3;
    return s;
  }
  static OptimizerSpec rmsprop() {  // learning_rate, rho and epsilon: the defaults above
    OptimizerSpec s;
    s.kind = Kind::RMSprop;
    return s;
  }
  static OptimizerSpec adagrad() {
    OptimizerSpec s;
    s.kind = Kind::Adagrad;
    s.learning_rate = 0.01;
    s.epsilon = 1e-10;
    return s;
  }
};
const char* optimizer_kind_name(OptimizerSpec::Kind kind);  // "sgd", "adam", "rmsprop", "adagrad"
OptimizerSpec optimizer_defaults(const std::string& kind);  // the spec of that kind with its defaults

// Throws std::invalid_argument naming the parameter unless every value is in range
// once converted to T (a learning rate that underflows float32 is rejected there).
template <class T>
void validate_optimizer(const OptimizerSpec& spec);
// Throws std::invalid_argument unless lr is finite and > 0 in T.
template <class T>
void validate_learning_rate(double lr);

template <class T>
class Optimizer {
 public:
  explicit Optimizer(const OptimizerSpec& spec);  // validates
  virtual ~Optimizer() = default;
  // params <- params - (update from grads), n entries each.
  virtual void step(T* params, const T* grads, Index n) = 0;
  virtual void reset() = 0;
  // > 0 when a step is exactly  w <- w - rate dJ/dw  (plain SGD), which the
  // network can then apply during backprop without a gradient buffer.
  virtual T plain_sgd_rate() const { return T(0); }
  T learning_rate() const { return learning_rate_; }
  void set_learning_rate(T lr);  // throws unless finite and > 0
  const OptimizerSpec& spec() const { return spec_; }
  // Gradient clipping (spec: clip_value, clip_norm): true when either is on. clip() turns the
  // gradient buffer (in the optimizer's memory) into the clipped gradient, in place.
  bool clips() const { return spec_.clip_norm > 0.0 || spec_.clip_value > 0.0; }
  virtual void clip(T* grads, Index n);
  // Where the buffers it steps live: nullptr for host memory (engines compare it with theirs).
  virtual const void* memory() const { return nullptr; }

 protected:
  OptimizerSpec spec_;
  T learning_rate_;
};

// The host optimizer a spec describes (SGD<T> or Adam<T>), with fresh state.
template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerSpec& spec);

// g = dJ/dw + weight_decay w
// plain:     w <- w - lr g                         (the seeds' gradient descent)
// momentum:  v <- momentum v + g   (v = g on the first step)
//            w <- w - lr v,  or with Nesterov  w <- w - lr (g + momentum v)
template <class T>
class SGD final : public Optimizer<T> {
 public:
  explicit SGD(T learning_rate, T momentum = T(0), bool nesterov = false, T weight_decay = T(0));
  explicit SGD(const OptimizerSpec& spec);
  void step(T* params, const T* grads, Index n) override;
  void reset() override { velocity_.resize(0); }
  T plain_sgd_rate() const override { return momentum_ == T(0) && weight_decay_ == T(0) ? this->learning_rate_ : T(0); }
  T momentum() const { return momentum_; }
  bool nesterov() const { return nesterov_; }
  T weight_decay() const { return weight_decay_; }
  const Vector<T>& velocity() const { return velocity_; }

 private:
  T momentum_, weight_decay_;
  bool nesterov_;
  Vector<T> velocity_;
};

// Adam, bias-corrected. g = dJ/dw (+ weight_decay w unless decoupled)
//   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,   t <- t + 1
//   w <- w - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// decoupled (AdamW): first w <- w (1 - lr weight_decay), g without the decay term.
template <class T>
class Adam final : public Optimizer<T> {
 public:
  Adam(T learning_rate, T beta1 = T(0.9), T beta2 = T(0.999), T epsilon = T(1e-8), T weight_decay = T(0),
       bool decoupled = false);
  explicit Adam(const OptimizerSpec& spec);
  void step(T* params, const T* grads, Index n) override;
  void reset() override;
  long long steps() const { return t_; }
  const Vector<T>& first_moment() const { return m_; }
  const Vector<T>& second_moment() const { return v_; }

 private:
  T beta1_, beta2_, epsilon_, weight_decay_;
  bool decoupled_;
  long long t_ = 0;
  Vector<T> m_, v_;
};

// RMSprop (torch, no momentum, not centered) and Adagrad (torch, no lr decay), one per-parameter
// rate each. g = dJ/dw + weight_decay w
//   RMSprop  v <- rho v + (1 - rho) g^2   (v: the mean square)
//   Adagrad  v <- v + g^2                 (v: the sum of squares)
//   then     w <- w - lr g / (sqrt(v) + eps)
template <class T, OptimizerSpec::Kind K>
class AdaptiveRate final : public Optimizer<T> {
 public:
  explicit AdaptiveRate(const OptimizerSpec& spec);
  void step(T* params, const T* grads, Index n) override;
  void reset() override { v_.resize(0); }

 private:
  Vector<T> v_;
};
template <class T>
using RMSprop = AdaptiveRate<T, OptimizerSpec::Kind::RMSprop>;
template <class T>
using Adagrad = AdaptiveRate<T, OptimizerSpec::Kind::Adagrad>;

extern template class Optimizer<float>;
extern template class Optimizer<double>;
extern template class SGD<float>;
extern template class SGD<double>;
extern template class Adam<float>;
extern template class Adam<double>;

}  // namespace fastmlp
