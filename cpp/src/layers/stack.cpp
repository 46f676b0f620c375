// LayerStack<T> (layer.hpp): the one layer loop, and the config reader the layers share.
#include <cmath>
#include <stdexcept>
#include <string>

#include "fastmlp/layer.hpp"
#include "fastmlp/trainer.hpp"  // NotSupported

namespace fastmlp {

void ops_unsupported(const char* op) {
  throw NotSupported(std::string("this engine has no '") + op + "' operation yet (a layer needs it); use the CPU");
}

template <class T>
Activation Layer<T>::output_activation(double*) const {
  throw std::invalid_argument(std::string("the output layer must be a Dense or an Activation layer (the loss "
                                          "applies its activation), got a ") +
                              type());
}

template <class T>
LayerStack<T>::LayerStack(const std::vector<LayerConfig>& configs, Index n_in, const std::string& where) : n_in_(n_in) {
  if (configs.empty()) throw std::invalid_argument(where + ": a network needs at least one layer");
  for (std::size_t i = 0; i < configs.size(); ++i) {
    layers_.push_back(make_layer<T>(configs[i], n_in, where + "[" + std::to_string(i) + "]"));
    if (i == 0) n_in_ = layers_[0]->n_in();
    n_in = layers_.back()->n_out();
  }
  inputs_.resize(configs.size());
}

template <class T>
LayerStack<T>::~LayerStack() = default;

template <class T>
std::vector<LayerConfig> LayerStack<T>::configs() const {
  std::vector<LayerConfig> out;
  for (const auto& l : layers_) out.push_back(l->config());
  return out;
}

template <class T>
Index LayerStack<T>::num_params() const {
  Index n = 0;
  for (const auto& l : layers_) n += l->num_params();
  return n;
}

template <class T>
Index LayerStack<T>::num_state() const {
  Index n = 0;
  for (const auto& l : layers_) n += l->num_state();
  return n;
}

template <class T>
void LayerStack<T>::layout(Index& params, Index& state) {
  for (auto& l : layers_) l->layout(params, state);
}

template <class T>
void LayerStack<T>::tensors(const std::string& prefix, std::vector<TensorSlot>& out) const {
  for (std::size_t i = 0; i < layers_.size(); ++i) layers_[i]->tensors(prefix + std::to_string(i) + ".", out);
}

template <class T>
void LayerStack<T>::init(T* params, T* state, Rng& rng) const {
  for (const auto& l : layers_) l->init(params, state, rng);
}

template <class T>
void LayerStack<T>::bind(T* params, T* grads, T* state) {
  for (auto& l : layers_) l->bind(params, grads, state);
}

template <class T>
void LayerStack<T>::walk(std::vector<const Layer<T>*>& out) const {
  for (const auto& l : layers_) l->walk(out);
}

// Forward: each layer reads the output of the one before (the first reads x).
template <class T>
const T* LayerStack<T>::forward(Pass<T>& p, const T* x, Index ldx) {
  Layer<T>& first = *layers_.front();
  if (ldx != first.n_in() && !first.strided_input()) {  // e.g. a Dropout on a slice of wider rows
    contiguous_.reserve(p.ops, p.m * first.n_in());
    for (Index i = 0; i < p.m; ++i) p.ops.copy(x + i * ldx, contiguous_.data() + i * first.n_in(), first.n_in());
    x = contiguous_.data(), ldx = first.n_in();
  }
  ldx_ = ldx;
  const T* in = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    inputs_[i] = in;
    const auto fused =
        std::size_t(layers_[i]->forward_fused(p, in, i == 0 ? ldx : layers_[i]->n_in(), *this, Index(i), &in));
    for (std::size_t j = 1; j <= fused; ++j) inputs_[i + j] = nullptr;  // ran inside layer i (inference only)
    i += fused;
  }
  return in;
}

// Backward: dJ/d(output) of each layer is dJ/dx of the one after it; element-wise layers work in
// place (dx = dy), the others write into their dx buffer. The first layer writes into dx.
template <class T>
void LayerStack<T>::backward(Pass<T>& p, T* dy, T* dx) {
  T* d = dy;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    Layer<T>& layer = *layers_[i];
    const Index ld = i == 0 ? ldx_ : layer.n_in();
    if (i == 0) {
      if (layer.backward_in_place()) {
        layer.backward(p, inputs_[0], ld, d, dx ? d : nullptr);
        if (dx && dx != d) p.ops.copy(d, dx, p.m * layer.n_in());
      } else {
        layer.backward(p, inputs_[0], ld, d, dx);
      }
      return;
    }
    T* target = layer.backward_in_place() ? d : layer.dx_buffer(p.ops, p.m);
    layer.backward(p, inputs_[i], ld, d, target);
    d = target;
  }
}

template class Layer<float>;
template class Layer<double>;
template class LayerStack<float>;
template class LayerStack<double>;

// ------------------------------------------------------------------ ConfigReader

namespace {
const char* kind_name(ConfigValue::Kind k) {
  switch (k) {
    case ConfigValue::Kind::Null: return "null";
    case ConfigValue::Kind::Integer: return "an integer";
    case ConfigValue::Kind::Number: return "a number";
    case ConfigValue::Kind::Text: return "a string";
    case ConfigValue::Kind::Bool: return "a boolean";
  }
  return "?";
}
std::string shown(const ConfigValue& v) {
  switch (v.kind) {
    case ConfigValue::Kind::Integer: return std::to_string(v.integer);
    case ConfigValue::Kind::Number: return std::to_string(v.number);
    case ConfigValue::Kind::Text: return "'" + v.text.substr(0, 40) + "'";
    case ConfigValue::Kind::Bool: return v.flag ? "true" : "false";
    default: return "null";
  }
}
}  // namespace

const ConfigValue* ConfigReader::take(const std::string& key) {
  for (std::size_t i = 0; i < c_.fields.size(); ++i)
    if (c_.fields[i].first == key) {
      used_[i] = 1;
      return &c_.fields[i].second;
    }
  return nullptr;
}

bool ConfigReader::has(const std::string& key) const {
  const ConfigValue* v = c_.find(key);
  return v && v->kind != ConfigValue::Kind::Null;
}

Index ConfigReader::integer(const std::string& key, Index lo, Index hi, Index fallback) {
  const ConfigValue* v = take(key);
  if (!v || v->kind == ConfigValue::Kind::Null) {
    if (fallback < lo) throw std::invalid_argument(where_ + " lacks " + key);
    return fallback;
  }
  if (v->kind != ConfigValue::Kind::Integer || v->integer < lo || v->integer > hi)
    throw std::invalid_argument(where_ + "." + key + " must be an integer in [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "], got " + shown(*v));
  return Index(v->integer);
}

double ConfigReader::number(const std::string& key, double fallback, bool (*check)(double), const char* what) {
  const ConfigValue* v = take(key);
  if (!v || v->kind == ConfigValue::Kind::Null) return fallback;
  if (v->kind != ConfigValue::Kind::Integer && v->kind != ConfigValue::Kind::Number)
    throw std::invalid_argument(where_ + "." + key + " must be a number, got " + kind_name(v->kind));
  if (!std::isfinite(v->number) || (check && !check(v->number)))
    throw std::invalid_argument(where_ + "." + key + " must be " + what + ", got " + shown(*v));
  return v->number;
}

double read_alpha(ConfigReader& r, Activation g) {
  return r.number("alpha", default_alpha(g), [](double v) { return v >= 0.0; }, "finite and >= 0");
}

ConfigValue alpha_field(Activation g, double alpha) {
  return g == Activation::LeakyRelu || g == Activation::Elu ? ConfigValue::of(alpha) : ConfigValue::null();
}

std::string ConfigReader::text(const std::string& key, const std::string& fallback) {
  const ConfigValue* v = take(key);
  if (!v || v->kind == ConfigValue::Kind::Null) return fallback;
  if (v->kind != ConfigValue::Kind::Text)
    throw std::invalid_argument(where_ + "." + key + " must be a string, got " + kind_name(v->kind));
  return v->text;
}

bool ConfigReader::flag(const std::string& key, bool fallback) {
  const ConfigValue* v = take(key);
  if (!v || v->kind == ConfigValue::Kind::Null) return fallback;
  if (v->kind != ConfigValue::Kind::Bool)
    throw std::invalid_argument(where_ + "." + key + " must be true or false, got " + kind_name(v->kind));
  return v->flag;
}

void ConfigReader::finish() const {
  for (std::size_t i = 0; i < used_.size(); ++i)
    if (!used_[i])
      throw std::invalid_argument(where_ + " has unknown fields: '" + c_.fields[i].first.substr(0, 40) + "'");
}

}  // namespace fastmlp
