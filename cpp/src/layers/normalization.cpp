// BatchNormalization and LayerNormalization of their input x (m x k): y = gamma x_hat + beta,
// gamma and beta learned (k each). The formulas are network.hpp's; the engine's Ops compute them.
//   batch:  x_hat over each unit's batch statistics in training, the running statistics in
//           inference; a training pass updates running = momentum running + (1 - momentum) batch
//   layer:  x_hat over each row's units
// Config: {"type": "BatchNormalization", "epsilon": 0.001, "momentum": 0.99} or
//         {"type": "LayerNormalization", "epsilon": 0.001}   (Keras's defaults).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "fastmlp/layer.hpp"

namespace fastmlp {

namespace {

bool positive(double v) { return v > 0.0; }
bool unit_interval(double v) { return v >= 0.0 && v < 1.0; }

template <class T>
class Normalization final : public Layer<T> {
 public:
  Normalization(Norm kind, const LayerConfig& c, Index n_in, const std::string& where) : kind_(kind) {
    if (n_in <= 0)
      throw std::invalid_argument(where + ": a " + c.type + " must follow another layer (it cannot be the first)");
    ConfigReader r(c, where);
    epsilon_ = r.number("epsilon", 1e-3, positive, "a finite number > 0");
    if (kind == Norm::Batch) momentum_ = r.number("momentum", 0.99, unit_interval, "in [0, 1)");
    r.finish();
    if (!(T(epsilon_) > T(0)))  // e.g. 1e-50 is 0 in float32
      throw std::invalid_argument(where + ": epsilon " + std::to_string(epsilon_) +
                                  " is 0 in the model's dtype; use a larger one");
    this->n_in_ = this->n_out_ = n_in;
  }
  const char* type() const override { return kind_ == Norm::Batch ? "BatchNormalization" : "LayerNormalization"; }
  LayerConfig config() const override {
    LayerConfig c{type(), {}, {}, false};
    c.set("epsilon", ConfigValue::of(epsilon_));
    if (kind_ == Norm::Batch) c.set("momentum", ConfigValue::of(momentum_));
    return c;
  }
  Index num_params() const override { return 2 * this->n_out_; }                            // gamma, beta
  Index num_state() const override { return kind_ == Norm::Batch ? 2 * this->n_out_ : 0; }  // running mean, variance
  void tensors(const std::string& prefix, std::vector<TensorSlot>& out) const override {
    const Index k = this->n_out_, p = this->param_offset_, s = this->state_offset_;
    out.push_back({prefix + "gamma", {k}, false, p});
    out.push_back({prefix + "beta", {k}, false, p + k});
    if (kind_ != Norm::Batch) return;
    out.push_back({prefix + "running_mean", {k}, true, s});
    out.push_back({prefix + "running_var", {k}, true, s + k});
  }
  // gamma 1, beta 0, running mean 0, running variance 1.
  void init(T* params, T* state, Rng&) const override {
    const Index k = this->n_out_;
    T* g = params + this->param_offset_;
    std::fill(g, g + k, T(1));
    std::fill(g + k, g + 2 * k, T(0));
    if (kind_ != Norm::Batch) return;
    T* s = state + this->state_offset_;
    std::fill(s, s + k, T(0));
    std::fill(s + k, s + 2 * k, T(1));
  }
  void bind(T* params, T* grads, T* state) override {
    gamma_ = params + this->param_offset_, dgamma_ = grads + this->param_offset_;
    running_ = kind_ == Norm::Batch ? state + this->state_offset_ : nullptr;
  }

  const T* forward(Pass<T>& p, const T* x, Index) override {
    const Index m = p.m, k = this->n_out_;
    y_.reserve(p.ops, m * k);
    x_hat_.reserve(p.ops, m * k);
    inv_std_.reserve(p.ops, kind_ == Norm::Layer ? m : k);
    mode_ = p.draw.norm;
    p.ops.normalize(kind_, mode_, x, m, k, T(epsilon_), T(momentum_), gamma_, gamma_ + k, running_,
                    running_ ? running_ + k : nullptr, x_hat_.data(), inv_std_.data(), y_.data());
    return y_.data();
  }
  bool backward_in_place() const override { return true; }
  // dy = dJ/dy becomes dJ/dx in place; dgamma, dbeta into the gradient buffer (with SGD, the update).
  void backward(Pass<T>& p, const T*, Index, T* dy, T* dx) override {
    const Index m = p.m, k = this->n_out_;
    p.ops.normalize_backward(kind_, mode_, dy, x_hat_.data(), m, k, gamma_, inv_std_.data(), dgamma_, dgamma_ + k);
    if (p.sgd_rate > T(0)) p.ops.axpby(-p.sgd_rate, dgamma_, T(1), gamma_, 2 * k);  // gamma, beta
    if (dx && dx != dy) p.ops.copy(dy, dx, m * k);
  }

 private:
  Norm kind_;
  double epsilon_ = 1e-3, momentum_ = 0.99;
  T *gamma_ = nullptr, *dgamma_ = nullptr, *running_ = nullptr;
  Buffer<T> y_, x_hat_, inv_std_;
  NormMode mode_ = NormMode::Inference;
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_batch_norm(const LayerConfig& c, Index n_in, const std::string& where) {
  return std::make_unique<Normalization<T>>(Norm::Batch, c, n_in, where);
}
template <class T>
std::unique_ptr<Layer<T>> make_layer_norm(const LayerConfig& c, Index n_in, const std::string& where) {
  return std::make_unique<Normalization<T>>(Norm::Layer, c, n_in, where);
}
template std::unique_ptr<Layer<float>> make_batch_norm<float>(const LayerConfig&, Index, const std::string&);
template std::unique_ptr<Layer<double>> make_batch_norm<double>(const LayerConfig&, Index, const std::string&);
template std::unique_ptr<Layer<float>> make_layer_norm<float>(const LayerConfig&, Index, const std::string&);
template std::unique_ptr<Layer<double>> make_layer_norm<double>(const LayerConfig&, Index, const std::string&);

}  // namespace fastmlp
