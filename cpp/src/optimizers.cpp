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
void check_range(T value, const char* name, double lo, double hi, bool lo_open, bool hi_open) {
  const double v = double(value), l = double(T(lo)), h = double(T(hi));
  const bool ok = std::isfinite(v) && (lo_open ? v > l : v >= l) && (hi_open ? v < h : v <= h);
  if (!ok)
    throw std::invalid_argument(std::string(name) + " must be a finite number in " + (lo_open ? "(" : "[") + num(l) +
                                ", " + num(h) + (hi_open ? ")" : "]") + ", got " + num(v) + " (in the model's dtype)");
}

// The table's rows, from the rules of optimizer_rules.hpp.
std::vector<OptimizerKind> build_kinds() {
  std::vector<OptimizerKind> kinds;
  OptimizerRules::each([&](auto rule) {
    using R = decltype(rule);
    kinds.push_back({R::name,
                     R::class_name,
                     R::summary,
                     R::learning_rate,
                     {std::begin(R::params), std::end(R::params)},
                     {std::begin(R::states), std::end(R::states)},
                     &R::check,
                     &R::plain_sgd_rate});
  });
  return kinds;
}
}  // namespace

const std::vector<OptimizerKind>& optimizer_kinds() {
  static const std::vector<OptimizerKind> kinds = build_kinds();
  return kinds;
}

int optimizer_kind(const std::string& name) {
  const auto& kinds = optimizer_kinds();
  std::string expected;
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if (name == kinds[i].name) return int(i);
    expected += (i ? ", " : "") + std::string(kinds[i].name);
  }
  throw std::invalid_argument("unknown optimizer '" + name + "' (expected one of: " + expected + ")");
}

OptimizerSpec OptimizerSpec::defaults(const std::string& name) {
  OptimizerSpec s;
  s.kind = optimizer_kind(name);
  const OptimizerKind& k = s.info();
  s.learning_rate = k.learning_rate;
  s.values.clear();
  for (const auto& p : k.params) s.values.push_back(p.value);
  return s;
}

OptimizerSpec optimizer_defaults(const std::string& kind) { return OptimizerSpec::defaults(kind); }

namespace {
double* find(const OptimizerSpec& s, const std::string& name) {
  auto& self = const_cast<OptimizerSpec&>(s);
  if (name == "learning_rate") return &self.learning_rate;
  if (name == "clip_norm") return &self.clip_norm;
  if (name == "clip_value") return &self.clip_value;
  const auto& params = s.info().params;
  for (std::size_t i = 0; i < params.size() && i < s.values.size(); ++i)
    if (name == params[i].name) return &self.values[i];
  return nullptr;
}
}  // namespace

bool OptimizerSpec::has(const std::string& name) const { return find(*this, name) != nullptr; }

double OptimizerSpec::get(const std::string& name) const {
  if (const double* v = find(*this, name)) return *v;
  throw std::out_of_range(std::string("the optimizer '") + kind_name() + "' has no hyper-parameter '" + name + "'");
}

void OptimizerSpec::set(const std::string& name, double value) {
  if (double* v = find(*this, name)) {
    *v = value;
    return;
  }
  throw std::out_of_range(std::string("the optimizer '") + kind_name() + "' has no hyper-parameter '" + name + "'");
}

template <class T>
void validate_learning_rate(double lr) {
  check_range<T>(T(lr), "learning_rate", 0.0, kUnbounded, true, false);
}

template <class T>
void validate_optimizer(const OptimizerSpec& s) {
  if (s.kind < 0 || s.kind >= int(optimizer_kinds().size())) throw std::invalid_argument("unknown optimizer kind");
  const OptimizerKind& k = s.info();
  if (s.values.size() != k.params.size())
    throw std::invalid_argument(std::string("the optimizer '") + k.name + "' needs " + std::to_string(k.params.size()) +
                                " hyper-parameters");
  validate_learning_rate<T>(s.learning_rate);
  for (std::size_t i = 0; i < k.params.size(); ++i) {
    const OptimizerParam& p = k.params[i];
    if (p.flag && s.values[i] != 0.0 && s.values[i] != 1.0)
      throw std::invalid_argument(std::string(p.name) + " must be true or false");
    if (!p.flag) check_range<T>(T(s.values[i]), p.name, p.lo, p.hi, p.lo_open, p.hi_open);
  }
  if (const char* why = k.check(s.values.data())) throw std::invalid_argument(why);
  check_range<T>(T(s.clip_norm), "clip_norm", 0.0, kUnbounded, false, false);
  check_range<T>(T(s.clip_value), "clip_value", 0.0, kUnbounded, false, false);
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
void RuleOptimizer<T>::step(T* params, const T* grads, Index n) {
  if (n != n_) {  // another buffer: fresh state
    n_ = n;
    t_ = 0;
  }
  ++t_;
  const OptimizerSpec& s = this->spec_;
  apply({s.kind, s.values.data(), double(this->learning_rate_), t_, int(s.info().states.size())}, params, grads, n);
}

template <class T>
std::function<void()> RuleOptimizer<T>::saved() {
  return [this, t = t_, n = n_, state = state_, lr = this->learning_rate_] {
    t_ = t, n_ = n, state_ = state;
    this->learning_rate_ = lr;
  };
}

template <class T>
T RuleOptimizer<T>::plain_sgd_rate() const {
  return T(this->spec_.info().plain_sgd_rate(this->spec_.values.data(), double(this->learning_rate_)));
}

template <class T>
Vector<T> RuleOptimizer<T>::state(const std::string& name) const {
  const auto& states = this->spec_.info().states;
  for (std::size_t j = 0; j < states.size(); ++j)
    if (name == states[j]) return state_.size() ? Vector<T>(state_.segment(Index(j) * n_, n_)) : Vector<T>();
  throw std::out_of_range(std::string("the optimizer '") + this->spec_.kind_name() + "' has no state '" + name + "'");
}

namespace {
// The host loop of every rule. The step is copied to a local so that the compiler knows the
// stores to w and s cannot change its fields: it then takes the rule's tests on them (wd != 0,
// momentum == 0, ...) out of the loop and vectorises each version (measured: as fast as the
// Eigen passes it replaces, faster for Adam, whose passes it fuses into one).
template <class Step, class T>
void run(const Step& rule_step, T* __restrict w, const T* __restrict g, T* __restrict s, Index n) {
  const Step step = rule_step;
  for (Index i = 0; i < n; ++i) step(w[i], g[i], OptimizerState<T>{s + i, n});
}
}  // namespace

template <class T>
void RuleOptimizer<T>::apply(const UpdateStep& u, T* params, const T* grads, Index n) {
  if (u.t == 1 || state_.size() != u.n_states * n) state_ = Vector<T>::Zero(u.n_states * n);
  OptimizerRules::visit(u.kind, [&](auto rule) {
    using R = decltype(rule);
    run(typename R::template Step<T>(u.hyper, T(u.learning_rate), u.t), params, grads, state_.data(), n);
  });
}

template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerSpec& spec) {
  return std::make_unique<RuleOptimizer<T>>(spec);
}

namespace {
OptimizerSpec sgd_spec(double lr, double momentum, bool nesterov, double weight_decay) {
  auto s = OptimizerSpec::sgd();
  s.learning_rate = lr;
  s.set("momentum", momentum);
  s.set("nesterov", nesterov);
  s.set("weight_decay", weight_decay);
  return s;
}
OptimizerSpec adam_spec(double lr, double beta1, double beta2, double epsilon, double weight_decay, bool decoupled) {
  auto s = OptimizerSpec::adam();
  s.learning_rate = lr;
  s.set("beta1", beta1);
  s.set("beta2", beta2);
  s.set("epsilon", epsilon);
  s.set("weight_decay", weight_decay);
  s.set("decoupled", decoupled);
  return s;
}
}  // namespace

template <class T>
SGD<T>::SGD(T learning_rate, T momentum, bool nesterov, T weight_decay)
    : RuleOptimizer<T>(sgd_spec(double(learning_rate), double(momentum), nesterov, double(weight_decay))) {}

template <class T>
Adam<T>::Adam(T learning_rate, T beta1, T beta2, T epsilon, T weight_decay, bool decoupled)
    : RuleOptimizer<T>(adam_spec(double(learning_rate), double(beta1), double(beta2), double(epsilon),
                                 double(weight_decay), decoupled)) {}

template void validate_optimizer<float>(const OptimizerSpec&);
template void validate_optimizer<double>(const OptimizerSpec&);
template void validate_learning_rate<float>(double);
template void validate_learning_rate<double>(double);
template std::unique_ptr<Optimizer<float>> make_optimizer<float>(const OptimizerSpec&);
template std::unique_ptr<Optimizer<double>> make_optimizer<double>(const OptimizerSpec&);
template class Optimizer<float>;
template class Optimizer<double>;
template class RuleOptimizer<float>;
template class RuleOptimizer<double>;
template class SGD<float>;
template class SGD<double>;
template class Adam<float>;
template class Adam<double>;

}  // namespace fastmlp
