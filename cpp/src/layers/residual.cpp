// Residual: y = x + f(x), f the layers inside (a ResNet-MLP block, Gorishniy et al. 2021); f must
// give as many outputs as it takes inputs.
//   backward: dx = dy + df/dx^T dy   (the inner layers' backward on a copy of dy)
// Config: {"type": "Residual", "layers": [ ...inner entries... ]}; inner tensors are named
// "layers.<i>.layers.<j>.<name>".
#include <algorithm>
#include <stdexcept>
#include <string>

#include "fastmlp/layer.hpp"

namespace fastmlp {

namespace {

template <class T>
class Residual final : public Layer<T> {
 public:
  Residual(const LayerConfig& c, Index n_in, const std::string& where)
      : f_(check(c, n_in, where), n_in, where + ".layers") {
    this->n_in_ = this->n_out_ = n_in;
    if (f_.n_out() != n_in)
      throw std::invalid_argument(where + ": the layers of a Residual must give as many outputs as it takes inputs (" +
                                  std::to_string(n_in) + "), they give " + std::to_string(f_.n_out()));
  }
  const char* type() const override { return "Residual"; }
  LayerConfig config() const override { return LayerConfig{"Residual", {}, f_.configs(), true}; }
  Index num_params() const override { return f_.num_params(); }
  Index num_state() const override { return f_.num_state(); }
  void layout(Index& params, Index& state) override { f_.layout(params, state); }
  void tensors(const std::string& prefix, std::vector<TensorSlot>& out) const override {
    f_.tensors(prefix + "layers.", out);
  }
  void init(T* params, T* state, Rng& rng) const override { f_.init(params, state, rng); }
  void bind(T* params, T* grads, T* state) override { f_.bind(params, grads, state); }
  Index dropout_draws_per_row() const override {
    Index n = 0;
    for (Index i = 0; i < f_.size(); ++i) n += f_[i].dropout_draws_per_row();
    return n;
  }
  void weights(std::vector<std::pair<Index, Index>>& out) const override {
    for (Index i = 0; i < f_.size(); ++i) f_[i].weights(out);
  }
  void walk(std::vector<const Layer<T>*>& out) const override {
    out.push_back(this);
    f_.walk(out);
    out.push_back(nullptr);  // the block ends
  }

  const T* forward(Pass<T>& p, const T* x, Index) override {
    const Index n = p.m * this->n_out_;
    const T* f = f_.forward(p, x, this->n_in_);
    y_.reserve(p.ops, n);
    p.ops.copy(f, y_.data(), n);
    p.ops.axpby(T(1), x, T(1), y_.data(), n);  // y = x + f(x)
    return y_.data();
  }
  void backward(Pass<T>& p, const T*, Index, T* dy, T* dx) override {
    const Index n = p.m * this->n_out_;
    g_.reserve(p.ops, n);
    p.ops.copy(dy, g_.data(), n);  // the inner layers overwrite their dy
    f_.backward(p, g_.data(), dx);
    if (dx) p.ops.axpby(T(1), dy, T(1), dx, n);  // the skip connection's share
  }

 private:
  static const std::vector<LayerConfig>& check(const LayerConfig& c, Index n_in, const std::string& where) {
    if (n_in <= 0)
      throw std::invalid_argument(where + ": a Residual must follow another layer (it cannot be the first)");
    if (!c.fields.empty()) throw std::invalid_argument(where + " has unknown fields: '" + c.fields[0].first + "'");
    if (!c.is_block || c.layers.empty())
      throw std::invalid_argument(where + ": a Residual needs a non-empty 'layers' list");
    if (nesting(c) > kMaxBlockNesting)
      throw std::invalid_argument(where + ": blocks nest at most " + std::to_string(kMaxBlockNesting) +
                                  " deep (the model file's limit), this Residual is " + std::to_string(nesting(c)) +
                                  " deep");
    return c.layers;
  }
  // How deep blocks nest in c: 1 for a block of plain layers, 1 + the deepest block inside it.
  static int nesting(const LayerConfig& c) {
    int inner = 0;
    for (const LayerConfig& l : c.layers)
      if (l.is_block) inner = std::max(inner, nesting(l));
    return 1 + inner;
  }
  LayerStack<T> f_;
  Buffer<T> y_, g_;
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_residual(const LayerConfig& c, Index n_in, const std::string& where) {
  return std::make_unique<Residual<T>>(c, n_in, where);
}
template std::unique_ptr<Layer<float>> make_residual<float>(const LayerConfig&, Index, const std::string&);
template std::unique_ptr<Layer<double>> make_residual<double>(const LayerConfig&, Index, const std::string&);

}  // namespace fastmlp
