// The optimizers, each written once: its name, its hyper-parameters (defaults and ranges), its
// state slots and its per-parameter update rule, a FASTMLP_HD function that the CPU's loop
// (optimizers.cpp) and the CUDA engine's one generic kernel (cpp/cuda/kernels.cu) both run. Plain
// C++17, no Eigen, no CUDA header: nvcc compiles it.
//
// Every engine applies a rule the same way: for every parameter i, with g = dJ/dw_i and the
// rule's state slots s[0], s[1], ... of that parameter (0 after a reset), Step<T>(h, lr, t)(w_i,
// g, s), where h holds the hyper-parameters in the order of `params`, lr the step's learning
// rate (schedules change it) and t the step count (1 on the first step after a reset). Gradient
// clipping runs before, for every rule (optimizers.hpp). The formulas are PyTorch's.
//
// ---- Adding an optimizer: the files to touch (RAdam was added this way) ----
//   1. this file: a struct like the ones below (name, class_name, summary, learning_rate, params,
//      states, Step<T>; check / plain_sgd_rate when needed), and its name in OptimizerRules at the end;
//   2. python/fastmlp/__init__.py: export the class (fm.RAdam). fastmlp.optimizers makes the Python
//      class from this table (keywords, defaults, docstring; validation is the C++ one) unless the kind
//      has a hand-written class there (SGD, Adam, RMSprop, Adagrad do, for their docs), which is then
//      checked against this table at import.
// Not counted: tests (tests/reference.py's NumPy formula, tests/test_optimizer_table.py) and the docs
// entry (docs/api/python.rst). Nothing else: the CPU's loop, the CUDA kernel, the bindings
// (_core.OPTIMIZERS, OptimizerSpec's properties), the model file, fm.load, get() and the CLI read the table.
#pragma once

#include <cmath>

#include "fastmlp/elementwise.hpp"  // FASTMLP_HD

namespace fastmlp {

// A hyper-parameter: its name (the Python keyword and the model file's key), its default and the
// range validate_optimizer checks ([lo, hi], open ends where said). A flag (nesterov) is 0 or 1.
struct OptimizerParam {
  const char* name;
  double value;
  double lo, hi;
  bool lo_open, hi_open;
  bool flag;
};
constexpr double kUnbounded = 1e300;
constexpr OptimizerParam fraction_param(const char* name, double value) {
  return {name, value, 0.0, 1.0, false, true, false};
}
constexpr OptimizerParam non_negative_param(const char* name, double value) {
  return {name, value, 0.0, kUnbounded, false, false, false};
}
constexpr OptimizerParam positive_param(const char* name, double value) {
  return {name, value, 0.0, kUnbounded, true, false, false};
}
constexpr OptimizerParam flag_param(const char* name) { return {name, 0.0, 0.0, 1.0, false, false, true}; }

// The state slots of one parameter: s[j] is slot j (slots are n apart, one array each).
template <class T>
struct OptimizerState {
  T* p;
  long long n;
  FASTMLP_HD T& operator[](int j) const { return p[j * n]; }
};

// What a rule may leave out.
struct OptimizerRule {
  // One line on the formula: the docstring of a Python class made from the table.
  static constexpr const char* summary = "";
  // A message when the values clash (checked after the ranges), else nullptr.
  static const char* check(const double*) { return nullptr; }
  // > 0 when a step is exactly w <- w - rate g (the layers then fuse it into backprop at batch 1).
  static double plain_sgd_rate(const double*, double) { return 0.0; }
};

// g = dJ/dw + weight_decay w
// plain:     w <- w - lr g
// momentum:  v <- momentum v + g  (v = g on the first step);  w <- w - lr v, or with Nesterov w <- w - lr (g + momentum
// v)
struct SgdRule : OptimizerRule {
  static constexpr const char* name = "sgd";
  static constexpr const char* class_name = "SGD";
  static constexpr double learning_rate = 0.01;
  static constexpr OptimizerParam params[] = {fraction_param("momentum", 0.0), flag_param("nesterov"),
                                              non_negative_param("weight_decay", 0.0)};
  static constexpr const char* states[] = {"velocity"};
  static const char* check(const double* h) {
    return h[1] != 0.0 && h[0] == 0.0 ? "nesterov needs momentum > 0" : nullptr;
  }
  static double plain_sgd_rate(const double* h, double lr) { return h[0] == 0.0 && h[2] == 0.0 ? lr : 0.0; }
  template <class T>
  struct Step {
    T lr, mu, wd;
    bool nesterov;
    Step(const double* h, T lr_, long long) : lr(lr_), mu(T(h[0])), wd(T(h[2])), nesterov(h[1] != 0.0) {}
    FASTMLP_HD void operator()(T& w, T g, OptimizerState<T> s) const {
      if (wd != T(0)) g += wd * w;
      if (mu == T(0)) {
        w -= lr * g;
        return;
      }
      const T v = mu * s[0] + g;
      s[0] = v;
      w -= lr * (nesterov ? g + mu * v : v);
    }
  };
};

// Adam, bias-corrected. g = dJ/dw (+ weight_decay w unless decoupled)
//   m <- beta1 m + (1 - beta1) g,   v <- beta2 v + (1 - beta2) g^2
//   w <- w - lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
// decoupled (AdamW): first w <- w (1 - lr weight_decay), g without the decay term.
struct AdamRule : OptimizerRule {
  static constexpr const char* name = "adam";
  static constexpr const char* class_name = "Adam";
  static constexpr double learning_rate = 1e-3;
  static constexpr OptimizerParam params[] = {fraction_param("beta1", 0.9), fraction_param("beta2", 0.999),
                                              positive_param("epsilon", 1e-8), non_negative_param("weight_decay", 0.0),
                                              flag_param("decoupled")};
  static constexpr const char* states[] = {"m", "v"};
  template <class T>
  struct Step {
    T lr, b1, b2, eps, wd, c1, sqrt_c2;
    bool decoupled;
    Step(const double* h, T lr_, long long t)
        : lr(lr_),
          b1(T(h[0])),
          b2(T(h[1])),
          eps(T(h[2])),
          wd(T(h[3])),
          c1(T(1) - T(std::pow(double(b1), double(t)))),
          sqrt_c2(std::sqrt(T(1) - T(std::pow(double(b2), double(t))))),
          decoupled(h[4] != 0.0) {}
    FASTMLP_HD void operator()(T& w, T g, OptimizerState<T> s) const {
      if (wd != T(0)) {
        if (decoupled)
          w *= T(1) - lr * wd;
        else
          g += wd * w;
      }
      const T m = b1 * s[0] + (T(1) - b1) * g;
      const T v = b2 * s[1] + (T(1) - b2) * (g * g);
      s[0] = m;
      s[1] = v;
      w -= (lr / c1) * m / (std::sqrt(v) / sqrt_c2 + eps);  // torch's order of operations
    }
  };
};

// RMSprop (torch: no momentum, not centered; rho is torch's alpha). g = dJ/dw + weight_decay w
//   v <- rho v + (1 - rho) g^2;   w <- w - lr g / (sqrt(v) + epsilon)
struct RmspropRule : OptimizerRule {
  static constexpr const char* name = "rmsprop";
  static constexpr const char* class_name = "RMSprop";
  static constexpr double learning_rate = 0.01;
  static constexpr OptimizerParam params[] = {fraction_param("rho", 0.99), positive_param("epsilon", 1e-8),
                                              non_negative_param("weight_decay", 0.0)};
  static constexpr const char* states[] = {"v"};
  template <class T>
  struct Step {
    T lr, rho, eps, wd;
    Step(const double* h, T lr_, long long) : lr(lr_), rho(T(h[0])), eps(T(h[1])), wd(T(h[2])) {}
    FASTMLP_HD void operator()(T& w, T g, OptimizerState<T> s) const {
      if (wd != T(0)) g += wd * w;
      const T v = rho * s[0] + (T(1) - rho) * (g * g);
      s[0] = v;
      w -= lr * g / (std::sqrt(v) + eps);
    }
  };
};

// Adagrad (torch: no learning-rate decay, the sum starts at 0). g = dJ/dw + weight_decay w
//   v <- v + g^2;   w <- w - lr g / (sqrt(v) + epsilon)
struct AdagradRule : OptimizerRule {
  static constexpr const char* name = "adagrad";
  static constexpr const char* class_name = "Adagrad";
  static constexpr double learning_rate = 0.01;
  static constexpr OptimizerParam params[] = {positive_param("epsilon", 1e-10),
                                              non_negative_param("weight_decay", 0.0)};
  static constexpr const char* states[] = {"v"};
  template <class T>
  struct Step {
    T lr, eps, wd;
    Step(const double* h, T lr_, long long) : lr(lr_), eps(T(h[0])), wd(T(h[1])) {}
    FASTMLP_HD void operator()(T& w, T g, OptimizerState<T> s) const {
      if (wd != T(0)) g += wd * w;
      const T v = s[0] + g * g;
      s[0] = v;
      w -= lr * g / (std::sqrt(v) + eps);
    }
  };
};

// RAdam, rectified Adam (Liu et al. 2020; torch.optim.RAdam). g = dJ/dw + weight_decay w
//   m, v as Adam's;   rho_inf = 2 / (1 - beta2) - 1,   rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
//   rho_t > 5:  r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
//               w <- w - lr m / (1 - beta1^t) * sqrt(1 - beta2^t) / (sqrt(v) + epsilon) * r
//   else:       w <- w - lr m / (1 - beta1^t)          (the first steps: momentum without a rate per parameter)
struct RadamRule : OptimizerRule {
  static constexpr const char* name = "radam";
  static constexpr const char* class_name = "RAdam";
  static constexpr const char* summary =
      "RAdam, rectified Adam (Liu et al., 2020), PyTorch's formulas: Adam whose per-parameter rate is phased "
      "in by the variance rectification r_t; the first steps (rho_t <= 5) are momentum steps w <- w - lr m_hat.";
  static constexpr double learning_rate = 1e-3;
  static constexpr OptimizerParam params[] = {fraction_param("beta1", 0.9), fraction_param("beta2", 0.999),
                                              positive_param("epsilon", 1e-8), non_negative_param("weight_decay", 0.0)};
  static constexpr const char* states[] = {"m", "v"};
  template <class T>
  struct Step {
    T lr, b1, b2, eps, wd, c1, sqrt_c2, r;
    bool rectified;
    Step(const double* h, T lr_, long long t) : lr(lr_), b1(T(h[0])), b2(T(h[1])), eps(T(h[2])), wd(T(h[3])) {
      const double b2t = std::pow(h[1], double(t)), rho_inf = 2.0 / (1.0 - h[1]) - 1.0;
      const double rho_t = rho_inf - 2.0 * double(t) * b2t / (1.0 - b2t);
      c1 = T(1.0 - std::pow(h[0], double(t)));
      sqrt_c2 = T(std::sqrt(1.0 - b2t));
      rectified = rho_t > 5.0;
      r = rectified ? T(std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)))
                    : T(0);
    }
    FASTMLP_HD void operator()(T& w, T g, OptimizerState<T> s) const {
      if (wd != T(0)) g += wd * w;
      const T m = b1 * s[0] + (T(1) - b1) * g;
      const T v = b2 * s[1] + (T(1) - b2) * (g * g);
      s[0] = m;
      s[1] = v;
      const T m_hat = m / c1;
      w -= rectified ? m_hat * lr * (sqrt_c2 / (std::sqrt(v) + eps)) * r : m_hat * lr;
    }
  };
};

// A list of rules: visit(kind, f) calls f(Rule{}) for the rule at index `kind`; each(f) for all.
template <class... Rules>
struct OptimizerRuleList {
  static constexpr int size = int(sizeof...(Rules));
  template <class F>
  static void visit(int kind, F&& f) {
    int i = 0;
    (void)((i++ == kind ? (f(Rules{}), true) : false) || ...);
  }
  template <class F>
  static void each(F&& f) {
    (f(Rules{}), ...);
  }
};

// THE table of optimizers: a kind is its index here (OptimizerSpec::kind), its name the model file's.
// Append, never reorder (a kind's index is not stored anywhere, but the Python names follow this order).
using OptimizerRules = OptimizerRuleList<SgdRule, AdamRule, RmspropRule, AdagradRule, RadamRule>;

// One step of a rule over a buffer, as the engines receive it: the kind, its hyper-parameters
// (params order), this step's learning rate, the step count (1: the state starts at 0) and the
// number of state slots (the state buffer holds n_states arrays of the parameters' length).
struct UpdateStep {
  int kind = 0;
  const double* hyper = nullptr;
  double learning_rate = 0.0;
  long long t = 1;
  int n_states = 0;
};

}  // namespace fastmlp
