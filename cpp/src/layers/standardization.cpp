// Normalization (Keras's preprocessing layer): y = (x - mean) / s per column, s = sqrt(variance)
// (1 for a constant column, variance 0: scikit-learn's StandardScaler rule); with invert,
// y = x s + mean (as the last layer it maps a regression output back to the target's units).
// mean and variance are state (set by adapt or given, saved in the file), not trained.
//   backward: dx = dy / s   (invert: dy s)
// Config: {"type": "Normalization", "n_in": 13, "invert": false} ("n_in" when it is the first layer).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "fastmlp/layer.hpp"

namespace fastmlp {

namespace {

constexpr Index kMaxSide = (Index(1) << 31) - 1;

template <class T>
class Standardization final : public Layer<T> {
 public:
  Standardization(const LayerConfig& c, Index n_in, const std::string& where) {
    ConfigReader r(c, where);
    const Index given = r.integer("n_in", 1, kMaxSide, n_in > 0 ? n_in : 0);
    if (n_in > 0 && given != n_in)
      throw std::invalid_argument(where + " takes " + std::to_string(given) + " inputs but the layer before it gives " +
                                  std::to_string(n_in) + " outputs");
    invert_ = r.flag("invert", false);
    r.finish();
    this->n_in_ = this->n_out_ = given;
  }
  const char* type() const override { return "Normalization"; }
  LayerConfig config() const override {
    LayerConfig c{"Normalization", {}, {}, false};
    c.set("n_in", ConfigValue::of(std::int64_t(this->n_in_)));
    c.set("invert", ConfigValue::of(invert_));
    return c;
  }
  Index num_state() const override { return 2 * this->n_out_; }  // mean, variance
  void tensors(const std::string& prefix, std::vector<TensorSlot>& out) const override {
    out.push_back({prefix + "mean", {this->n_out_}, true, this->state_offset_});
    out.push_back({prefix + "variance", {this->n_out_}, true, this->state_offset_ + this->n_out_});
  }
  void init(T*, T* state, Rng&) const override {  // the identity until adapted
    T* s = state + this->state_offset_;
    std::fill(s, s + this->n_out_, T(0));
    std::fill(s + this->n_out_, s + 2 * this->n_out_, T(1));
  }
  void bind(T*, T*, T* state) override { mean_ = state + this->state_offset_; }
  // As the output layer: its output is final (the loss applies no activation).
  Activation output_activation(double* alpha) const override {
    if (alpha) *alpha = 0.0;
    return Activation::Linear;
  }

  const T* forward(Pass<T>& p, const T* x, Index) override {
    y_.reserve(p.ops, p.m * this->n_out_);
    p.ops.standardize(x, p.m, this->n_out_, mean_, mean_ + this->n_out_, invert_, y_.data());
    return y_.data();
  }
  bool backward_in_place() const override { return true; }
  void backward(Pass<T>& p, const T*, Index, T* dy, T* dx) override {
    if (dx) p.ops.standardize_backward(dy, p.m, this->n_out_, mean_, mean_ + this->n_out_, invert_, dx);
  }

 private:
  bool invert_ = false;
  T* mean_ = nullptr;  // then the variance
  Buffer<T> y_;
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_standardization(const LayerConfig& c, Index n_in, const std::string& where) {
  return std::make_unique<Standardization<T>>(c, n_in, where);
}
template std::unique_ptr<Layer<float>> make_standardization<float>(const LayerConfig&, Index, const std::string&);
template std::unique_ptr<Layer<double>> make_standardization<double>(const LayerConfig&, Index, const std::string&);

}  // namespace fastmlp
