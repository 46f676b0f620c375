#include "fastmlp/optimizers.hpp"
#include "fastmlp/names.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace fastmlp {

namespace {
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

template <class T>
void check_range(T value, const char* name, T lo, T hi, bool lo_open, bool hi_open) {
  const double v = double(value);
  const bool ok =
      std::isfinite(v) && (lo_open ? v > double(lo) : v >= double(lo)) && (hi_open ? v < double(hi) : v <= double(hi));
  if (!ok)
    throw std::invalid_argument(std::string(name) + " must be a finite number in " + (lo_open ? "(" : "[") +
                                num(double(lo)) + ", " + num(double(hi)) + (hi_open ? ")" : "]") + ", got " + num(v) +
                                " (in the model's dtype)");
}
constexpr double kBig = 1e300;
}  // namespace

template <class T>
void validate_learning_rate(double lr) {
  check_range<T>(T(lr), "learning_rate", T(0), T(kBig), true, false);
}

namespace {
using Kind = OptimizerSpec::Kind;
constexpr Named<Kind> kOptimizers[] = {
    {Kind::SGD, "sgd"}, {Kind::Adam, "adam"}, {Kind::RMSprop, "rmsprop"}, {Kind::Adagrad, "adagrad"}};
}  // namespace

const char* optimizer_kind_name(Kind kind) { return name_of(kOptimizers, kind); }

OptimizerSpec optimizer_defaults(const std::string& name) {
  switch (from_name(kOptimizers, name, "optimizer")) {
    case Kind::SGD: return OptimizerSpec::sgd();
    case Kind::Adam: return OptimizerSpec::adam();
    case Kind::RMSprop: return OptimizerSpec::rmsprop();
    case Kind::Adagrad: return OptimizerSpec::adagrad();
  }
  return OptimizerSpec::sgd();
}

template <class T>
void validate_optimizer(const OptimizerSpec& s) {
  validate_learning_rate<T>(s.learning_rate);
  check_range<T>(T(s.weight_decay), "weight_decay", T(0), T(kBig), false, false);
  check_range<T>(T(s.clip_norm), "clip_norm", T(0), T(kBig), false, false);
  check_range<T>(T(s.clip_value), "clip_value", T(0), T(kBig), false, false);
  if (s.kind == OptimizerSpec::Kind::SGD) {
    check_range<T>(T(s.momentum), "momentum", T(0), T(1), false, true);
    if (s.nesterov && s.momentum == 0.0) throw std::invalid_argument("nesterov needs momentum > 0");
    return;
  }
  if (s.kind == OptimizerSpec::Kind::RMSprop) check_range<T>(T(s.rho), "rho", T(0), T(1), false, true);
  if (s.kind == OptimizerSpec::Kind::Adam) {
    check_range<T>(T(s.beta1), "beta1", T(0), T(1), false, true);
    check_range<T>(T(s.beta2), "beta2", T(0), T(1), false, true);
  }
  check_range<T>(T(s.epsilon), "epsilon", T(0), T(kBig), true, false);  // Adam, RMSprop, Adagrad
}

template <class T>
Optimizer<T>::Optimizer(const OptimizerSpec& spec) : spec_(spec), learning_rate_(0) {
  validate_optimizer<T>(spec);
  learning_rate_ = T(spec.learning_rate);
}

template <class T>
void Optimizer<T>::set_learning_rate(T lr) {
  validate_learning_rate<T>(double(lr));
  learning_rate_ = lr;
  spec_.learning_rate = double(lr);
}

template <class T>
void Optimizer<T>::clip(T* grads, Index n) {
  auto g = Eigen::Map<Vector<T>>(grads, n);
  if (spec_.clip_value > 0.0) {
    const T c = T(spec_.clip_value);
    g = g.array().max(-c).min(c).matrix();
  }
  if (spec_.clip_norm > 0.0) {
    // PyTorch's clip_grad_norm_: g *= min(1, clip_norm / (||g|| + 1e-6)).
    const double f = spec_.clip_norm / (std::sqrt(g.template cast<double>().squaredNorm()) + 1e-6);
    if (f < 1.0) g *= T(f);
  }
}

template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerSpec& spec) {
  switch (spec.kind) {
    case OptimizerSpec::Kind::Adam: return std::make_unique<Adam<T>>(spec);
    case OptimizerSpec::Kind::RMSprop: return std::make_unique<RMSprop<T>>(spec);
    case OptimizerSpec::Kind::Adagrad: return std::make_unique<Adagrad<T>>(spec);
    default: return std::make_unique<SGD<T>>(spec);
  }
}

template <class T, Kind K>
AdaptiveRate<T, K>::AdaptiveRate(const OptimizerSpec& s) : Optimizer<T>(s) {
  const std::string name = K == Kind::RMSprop ? "RMSprop" : "Adagrad";
  if (s.kind != K) throw std::invalid_argument(name + " needs an " + name + " spec");
}

template <class T, Kind K>
void AdaptiveRate<T, K>::step(T* params, const T* grads, Index n) {
  if (v_.size() != n) v_ = Vector<T>::Zero(n);
  auto w = Eigen::Map<Vector<T>>(params, n).array();
  const auto dw = Eigen::Map<const Vector<T>>(grads, n).array();
  const T lr = this->learning_rate_, rho = T(this->spec_.rho), eps = T(this->spec_.epsilon),
          wd = T(this->spec_.weight_decay);
  auto v = v_.array();
  auto accumulate = [&](const auto& g2) {  // v from g^2
    if constexpr (K == Kind::RMSprop)
      v = rho * v + (T(1) - rho) * g2;
    else
      v += g2;
  };
  if (wd == T(0)) {
    accumulate(dw.square());
    w -= lr * dw / (v.sqrt() + eps);
  } else {
    const Vector<T> g = (dw + wd * w).matrix();
    accumulate(g.array().square());
    w -= lr * g.array() / (v.sqrt() + eps);
  }
}

namespace {
OptimizerSpec sgd_spec(double lr, double momentum, bool nesterov, double weight_decay) {
  auto s = OptimizerSpec::sgd();
  s.learning_rate = lr;
  s.momentum = momentum;
  s.nesterov = nesterov;
  s.weight_decay = weight_decay;
  return s;
}
OptimizerSpec adam_spec(double lr, double beta1, double beta2, double epsilon, double weight_decay, bool decoupled) {
  auto s = OptimizerSpec::adam();
  s.learning_rate = lr;
  s.beta1 = beta1;
  s.beta2 = beta2;
  s.epsilon = epsilon;
  s.weight_decay = weight_decay;
  s.decoupled = decoupled;
  return s;
}
}  // namespace

template <class T>
SGD<T>::SGD(T learning_rate, T momentum, bool nesterov, T weight_decay)
    : SGD(sgd_spec(double(learning_rate), double(momentum), nesterov, double(weight_decay))) {}

template <class T>
SGD<T>::SGD(const OptimizerSpec& s)
    : Optimizer<T>(s), momentum_(T(s.momentum)), weight_decay_(T(s.weight_decay)), nesterov_(s.nesterov) {
  if (s.kind != OptimizerSpec::Kind::SGD) throw std::invalid_argument("SGD needs an SGD spec");
}

template <class T>
void SGD<T>::step(T* params, const T* grads, Index n) {
  auto w = Eigen::Map<Vector<T>>(params, n).array();
  const auto dw = Eigen::Map<const Vector<T>>(grads, n).array();
  const T lr = this->learning_rate_;
  if (momentum_ == T(0)) {
    if (weight_decay_ == T(0))
      w -= lr * dw;
    else
      w -= lr * (dw + weight_decay_ * w);
    return;
  }
  if (velocity_.size() != n) velocity_ = Vector<T>::Zero(n);  // so the first step gives v = g
  auto v = velocity_.array();
  const T mu = momentum_, wd = weight_decay_;
  if (wd == T(0)) {
    v = mu * v + dw;
    if (nesterov_)
      w -= lr * (dw + mu * v);
    else
      w -= lr * v;
  } else {
    v = mu * v + dw + wd * w;
    if (nesterov_)
      w -= lr * (dw + wd * w + mu * v);
    else
      w -= lr * v;
  }
}

template <class T>
Adam<T>::Adam(T learning_rate, T beta1, T beta2, T epsilon, T weight_decay, bool decoupled)
    : Adam(adam_spec(double(learning_rate), double(beta1), double(beta2), double(epsilon), double(weight_decay),
                     decoupled)) {}

template <class T>
Adam<T>::Adam(const OptimizerSpec& s)
    : Optimizer<T>(s),
      beta1_(T(s.beta1)),
      beta2_(T(s.beta2)),
      epsilon_(T(s.epsilon)),
      weight_decay_(T(s.weight_decay)),
      decoupled_(s.decoupled) {
  if (s.kind != OptimizerSpec::Kind::Adam) throw std::invalid_argument("Adam needs an Adam spec");
}

template <class T>
void Adam<T>::reset() {
  t_ = 0;
  m_.resize(0);
  v_.resize(0);
}

template <class T>
void Adam<T>::step(T* params, const T* grads, Index n) {
  if (m_.size() != n) {
    m_ = Vector<T>::Zero(n);
    v_ = Vector<T>::Zero(n);
    t_ = 0;
  }
  ++t_;
  auto w = Eigen::Map<Vector<T>>(params, n).array();
  const auto dw = Eigen::Map<const Vector<T>>(grads, n).array();
  const T lr = this->learning_rate_;
  if (weight_decay_ != T(0) && decoupled_) w *= T(1) - lr * weight_decay_;
  if (weight_decay_ != T(0) && !decoupled_) {
    m_.array() = beta1_ * m_.array() + (T(1) - beta1_) * (dw + weight_decay_ * w);
    v_.array() = beta2_ * v_.array() + (T(1) - beta2_) * (dw + weight_decay_ * w).square();
  } else {
    m_.array() = beta1_ * m_.array() + (T(1) - beta1_) * dw;
    v_.array() = beta2_ * v_.array() + (T(1) - beta2_) * dw.square();
  }
  const T c1 = T(1) - T(std::pow(double(beta1_), double(t_)));
  const T c2 = T(1) - T(std::pow(double(beta2_), double(t_)));
  // torch: w -= lr / c1 * m / (sqrt(v) / sqrt(c2) + eps)
  w -= (lr / c1) * m_.array() / (v_.array().sqrt() / std::sqrt(c2) + epsilon_);
}

template void validate_optimizer<float>(const OptimizerSpec&);
template void validate_optimizer<double>(const OptimizerSpec&);
template void validate_learning_rate<float>(double);
template void validate_learning_rate<double>(double);
template std::unique_ptr<Optimizer<float>> make_optimizer<float>(const OptimizerSpec&);
template std::unique_ptr<Optimizer<double>> make_optimizer<double>(const OptimizerSpec&);
template class Optimizer<float>;
template class Optimizer<double>;
template class SGD<float>;
template class SGD<double>;
template class Adam<float>;
template class Adam<double>;
template class AdaptiveRate<float, Kind::RMSprop>;
template class AdaptiveRate<double, Kind::RMSprop>;
template class AdaptiveRate<float, Kind::Adagrad>;
template class AdaptiveRate<double, Kind::Adagrad>;

}  // namespace fastmlp
