// Optimizers update the flat parameter buffer from the flat gradient buffer,
// so one step is one loop over all parameters of the network. They keep their
// state (velocity, moments, step count) between steps and between fit calls;
// reset() forgets it. Each kind is a rule of optimizer_rules.hpp (its formula,
// hyper-parameters and state, written once for every engine); the classes here
// run any of them. Gradient clipping (clip_value, then clip_norm over all
// parameters at once) applies to the gradient before any of them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fastmlp/optimizer_rules.hpp"
#include "fastmlp/types.hpp"

namespace fastmlp {

// A row of the table of optimizers (optimizer_rules.hpp's OptimizerRules), as the rest of the
// library reads it: the bindings, the validation, Python's classes.
struct OptimizerKind {
  const char* name;        // "adam": the model file's, the Python config's "name"
  const char* class_name;  // "Adam": the Python class
  const char* summary;     // a line on the formula
  double learning_rate;    // the default
  std::vector<OptimizerParam> params;
  std::vector<const char*> states;
  const char* (*check)(const double* hyper);
  double (*plain_sgd_rate)(const double* hyper, double lr);
};
const std::vector<OptimizerKind>& optimizer_kinds();
int optimizer_kind(const std::string& name);  // the index; std::invalid_argument listing the names

// What an optimizer is: its kind and hyper-parameters. defaults(kind) gives a kind's defaults
// (the table's); validate_optimizer their ranges.
struct OptimizerSpec {
  int kind = 0;  // index in optimizer_kinds() (0: sgd)
  double learning_rate = SgdRule::learning_rate;
  std::vector<double> values{0.0, 0.0, 0.0};  // the kind's params, in the table's order (SGD's here)
  double clip_norm = 0.0;   // > 0: g *= min(1, clip_norm / (||g|| + 1e-6)), ||g|| over all parameters (PyTorch's)
  double clip_value = 0.0;  // > 0: clamp every gradient entry to [-clip_value, clip_value]

  static OptimizerSpec defaults(const std::string& kind);
  static OptimizerSpec sgd() { return defaults("sgd"); }
  static OptimizerSpec adam() { return defaults("adam"); }
  static OptimizerSpec rmsprop() { return defaults("rmsprop"); }
  static OptimizerSpec adagrad() { return defaults("adagrad"); }
  const OptimizerKind& info() const { return optimizer_kinds().at(std::size_t(kind)); }
  const char* kind_name() const { return info().name; }
  // A hyper-parameter by name (learning_rate, clip_norm, clip_value or one of the kind's params);
  // std::out_of_range naming it when this kind has none of that name.
  bool has(const std::string& name) const;
  double get(const std::string& name) const;
  void set(const std::string& name, double value);
};
OptimizerSpec optimizer_defaults(const std::string& kind);  // = OptimizerSpec::defaults

// Throws std::invalid_argument naming the parameter unless every value is in range
// once converted to T (a learning rate that underflows float32 is rejected there).
template <class T>
void validate_optimizer(const OptimizerSpec& spec);
// Throws std::invalid_argument unless lr is finite and > 0 in T.
template <class T>
void validate_learning_rate(double lr);

// The interface the training loop steps (any Optimizer<T> over the engine's buffers will do).
template <class T>
class Optimizer {
 public:
  explicit Optimizer(const OptimizerSpec& spec);  // validates
  virtual ~Optimizer() = default;
  // params <- params - (update from grads), n entries each.
  virtual void step(T* params, const T* grads, Index n) = 0;
  virtual void reset() = 0;
  // A function that puts back the state and learning rate of now (a copy): how a fit that fails in its first
  // epoch leaves the optimizer as it found it (trainer.cpp). Empty: this optimizer cannot.
  virtual std::function<void()> saved() { return {}; }
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

// The optimizer of a spec: its rule (optimizer_rules.hpp) applied to every parameter, the state
// slots counted and started at 0 here. apply() is the host loop; an engine with its own memory
// overrides it with its kernel (cpp/cuda/device_network.cpp).
template <class T>
class RuleOptimizer : public Optimizer<T> {
 public:
  explicit RuleOptimizer(const OptimizerSpec& spec) : Optimizer<T>(spec) {}
  void step(T* params, const T* grads, Index n) final;
  void reset() override { t_ = 0; }
  std::function<void()> saved() override;
  T plain_sgd_rate() const override;
  long long steps() const { return t_; }  // since the last reset
  // The host state slot `name` (one of the kind's states), n values; empty before the first step.
  Vector<T> state(const std::string& name) const;

 protected:
  virtual void apply(const UpdateStep& step, T* params, const T* grads, Index n);

 private:
  long long t_ = 0;
  Index n_ = -1;  // the length of the last step's buffers (another length starts afresh)
  Vector<T> state_;
};

// The host optimizer a spec describes, with fresh state.
template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerSpec& spec);

// The C++ API's shorthands: SGD<double> sgd(0.5); Adam<float> adam(1e-3f); (any kind:
// RuleOptimizer<T>(OptimizerSpec::defaults("rmsprop"))).
template <class T>
class SGD final : public RuleOptimizer<T> {
 public:
  explicit SGD(T learning_rate, T momentum = T(0), bool nesterov = false, T weight_decay = T(0));
};
template <class T>
class Adam final : public RuleOptimizer<T> {
 public:
  Adam(T learning_rate, T beta1 = T(0.9), T beta2 = T(0.999), T epsilon = T(1e-8), T weight_decay = T(0),
       bool decoupled = false);
};

extern template class Optimizer<float>;
extern template class Optimizer<double>;
extern template class RuleOptimizer<float>;
extern template class RuleOptimizer<double>;
extern template class SGD<float>;
extern template class SGD<double>;
extern template class Adam<float>;
extern template class Adam<double>;

}  // namespace fastmlp
