// Activation: a = g(x) element-wise (softmax: per row), Keras's standalone layer, so that e.g.
// Dense(64) -> BatchNormalization() -> Activation("relu") can be written.
//   backward: dx = dy * g'(x)   (from a, or from x for gelu, silu, mish: activations.hpp)
// As the output layer it leaves x (the loss applies g) and its backward starts from dJ/dx.
// Config: {"type": "Activation", "activation": "relu", "alpha": null}.
#include <stdexcept>
#include <string>

#include "fastmlp/activations.hpp"
#include "fastmlp/layer.hpp"

namespace fastmlp {

namespace {

template <class T>
class ActivationLayer final : public Layer<T> {
 public:
  ActivationLayer(const LayerConfig& c, Index n_in, const std::string& where) {
    if (n_in <= 0)
      throw std::invalid_argument(where + ": an Activation must follow another layer (it cannot be the first)");
    ConfigReader r(c, where);
    if (!r.has("activation")) throw std::invalid_argument(where + " lacks activation");
    g_ = activation_from_name(r.text("activation", "linear"));
    alpha_ = read_alpha(r, g_);
    r.finish();
    this->n_in_ = this->n_out_ = n_in;
  }
  const char* type() const override { return "Activation"; }
  LayerConfig config() const override {
    LayerConfig c{"Activation", {}, {}, false};
    c.set("activation", ConfigValue::of(std::string(activation_name(g_))));
    c.set("alpha", alpha_field(g_, alpha_));
    return c;
  }
  Activation output_activation(double* alpha) const override {
    if (alpha) *alpha = alpha_;
    return g_;
  }

  const T* forward(Pass<T>& p, const T* x, Index) override {
    const Index m = p.m, k = this->n_out_;
    a_.reserve(p.ops, m * k);
    p.ops.copy(x, a_.data(), m * k);
    if (p.head != this) p.ops.bias_activate(g_, T(alpha_), nullptr, a_.data(), m, k);  // the loss activates the output
    return a_.data();
  }
  bool backward_in_place() const override { return true; }
  bool runs_in_row_blocks() const override { return true; }
  void backward(Pass<T>& p, const T* x, Index, T* dy, T* dx) override {
    if (!dx) return;
    if (p.head != this) p.ops.activation_backward(g_, T(alpha_), a_.data(), x, dy, p.m, this->n_out_);
    if (dx != dy) p.ops.copy(dy, dx, p.m * this->n_out_);
  }

 private:
  Activation g_ = Activation::Linear;
  double alpha_ = 0.0;
  Buffer<T> a_;
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_activation(const LayerConfig& c, Index n_in, const std::string& where) {
  return std::make_unique<ActivationLayer<T>>(c, n_in, where);
}
template std::unique_ptr<Layer<float>> make_activation<float>(const LayerConfig&, Index, const std::string&);
template std::unique_ptr<Layer<double>> make_activation<double>(const LayerConfig&, Index, const std::string&);

}  // namespace fastmlp
