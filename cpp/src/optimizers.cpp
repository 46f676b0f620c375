#include "fastmlp/optimizers.hpp"

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
  const bool ok = std::isfinite(v) && (lo_open ? v > double(lo) : v >= double(lo)) &&
                  (hi_open ? v < double(hi) : v <= double(hi));
  if (!ok)
    throw std::invalid_argument(std::string(name) + " must be a finite number in " + (lo_open ? "(" : "[") +
                                num(double(lo)) + ", " + num(double(hi)) + (hi_open ? ")" : "]") + ", got " + num(v) +
                                " (in the model's dtype)");
}
constexpr double kBig = 1e300;
}  // namespace

template <class T>
Optimizer<T>::Optimizer(T learning_rate) : learning_rate_(0) {
  set_learning_rate(learning_rate);
}

template <class T>
void Optimizer<T>::set_learning_rate(T lr) {
  check_range<T>(lr, "learning_rate", T(0), T(kBig), true, false);
  learning_rate_ = lr;
}

template <class T>
SGD<T>::SGD(T learning_rate, T momentum, bool nesterov, T weight_decay)
    : Optimizer<T>(learning_rate), momentum_(momentum), weight_decay_(weight_decay), nesterov_(nesterov) {
  check_range<T>(momentum, "momentum", T(0), T(1), false, true);
  check_range<T>(weight_decay, "weight_decay", T(0), T(kBig), false, false);
  if (nesterov && momentum == T(0)) throw std::invalid_argument("nesterov needs momentum > 0");
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
    : Optimizer<T>(learning_rate),
      beta1_(beta1),
      beta2_(beta2),
      epsilon_(epsilon),
      weight_decay_(weight_decay),
      decoupled_(decoupled) {
  check_range<T>(beta1, "beta1", T(0), T(1), false, true);
  check_range<T>(beta2, "beta2", T(0), T(1), false, true);
  check_range<T>(epsilon, "epsilon", T(0), T(kBig), true, false);
  check_range<T>(weight_decay, "weight_decay", T(0), T(kBig), false, false);
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

template class Optimizer<float>;
template class Optimizer<double>;
template class SGD<float>;
template class SGD<double>;
template class Adam<float>;
template class Adam<double>;

}  // namespace fastmlp
