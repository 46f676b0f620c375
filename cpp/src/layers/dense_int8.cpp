// Dense with int8 weights (model.quantize("int8")): z = dequantize(q(x) Wq) + b, a = g(z), with the
// arithmetic of fastmlp/gemm_int8.hpp (per-column int8 weights, per-row u8 activations, int32 sums).
// Inference only: its backward pass throws (Python refuses to train a quantized model first).
// Host memory only (the CPU engine); Python refuses device="cuda" for a quantized model.
// Config: a Dense's fields and "quantize": "int8". Tensors: "weight" (n_in x n_out, the integers
// Wq in [-63, 63], stored as I8 in the model file), "bias" (n_out) in the parameter buffer, and
// "weight_scale" (n_out, s_j) in the state buffer (not a trainable parameter). The kernel's packed
// copy of Wq is made at the first forward pass after bind(): the weights of a quantized model are
// read-only once it has predicted (Python hands out read-only views of them). Consecutive int8
// Dense layers run as one chain (forward_fused): blocks of rows through all of them, in cache.
#include <stdexcept>
#include <string>
#include <vector>

#include "fastmlp/activations.hpp"
#include "fastmlp/gemm_int8.hpp"
#include "fastmlp/layer.hpp"
#include "fastmlp/network.hpp"  // Init, init_from_name

namespace fastmlp {

namespace {

template <class T>
class DenseInt8 final : public Layer<T> {
 public:
  DenseInt8(const LayerConfig& c, Index n_in, const std::string& where) {
    ConfigReader r(c, where);
    const Index given = r.integer("n_in", 1, kInt8MaxInputs, n_in > 0 ? n_in : 0);
    this->n_out_ = r.integer("n_out", 1, (Index(1) << 31) - 1, 0);
    g_ = activation_from_name(r.text("activation", "linear"));
    alpha_ = read_alpha(r, g_);
    init_ = init_from_name(r.text("init", "default"));
    const std::string mode = r.text("quantize", "int8");
    r.finish();
    if (mode != "int8")
      throw std::invalid_argument(where + ".quantize must be 'int8', got '" + mode.substr(0, 20) + "'");
    if (n_in > 0 && given != n_in)
      throw std::invalid_argument(where + " takes " + std::to_string(given) + " inputs but the layer before it gives " +
                                  std::to_string(n_in) + " outputs");
    this->n_in_ = given;
  }
  const char* type() const override { return "Dense"; }
  LayerConfig config() const override {
    LayerConfig c{"Dense", {}, {}, false};
    c.set("n_in", ConfigValue::of(std::int64_t(this->n_in_))).set("n_out", ConfigValue::of(std::int64_t(this->n_out_)));
    c.set("activation", ConfigValue::of(std::string(activation_name(g_))));
    c.set("alpha", alpha_field(g_, alpha_));
    if (init_ != Init::Default) c.set("init", ConfigValue::of(std::string(init_name(init_))));
    c.set("quantize", ConfigValue::of(std::string("int8")));
    return c;
  }
  Index num_params() const override { return this->n_in_ * this->n_out_ + this->n_out_; }
  Index num_state() const override { return this->n_out_; }
  void tensors(const std::string& prefix, std::vector<TensorSlot>& out) const override {
    TensorSlot w{prefix + "weight", {this->n_in_, this->n_out_}, false, this->param_offset_};
    w.int8 = true;
    out.push_back(w);
    out.push_back({prefix + "bias", {this->n_out_}, false, this->param_offset_ + this->n_in_ * this->n_out_});
    out.push_back({prefix + "weight_scale", {this->n_out_}, true, this->state_offset_});
  }
  void init(T* params, T* state, Rng&) const override {  // zeros (quantize and load set them)
    std::fill(params + this->param_offset_, params + this->param_offset_ + num_params(), T(0));
    std::fill(state + this->state_offset_, state + this->state_offset_ + this->n_out_, T(1));
  }
  void bind(T* params, T*, T* state) override {
    Wq_ = params + this->param_offset_, b_ = Wq_ + this->n_in_ * this->n_out_;
    s_ = state + this->state_offset_;
    packed_ = false;
  }
  Activation output_activation(double* alpha) const override {
    if (alpha) *alpha = alpha_;
    return g_;
  }
  bool strided_input() const override { return true; }
  bool checks_finite_inputs() const override { return sizeof(T) == 4; }  // a float64 model refuses it first

  const T* forward(Pass<T>& p, const T* x, Index ldx) override {
    chain_.assign(1, this);
    T* Z = run_chain(p, x, ldx, !p.tracer);
    if (p.tracer) {  // z (the kernel's output without the activation), then a
      const Index m = p.m, k = this->n_out_;
      z_.reserve(p.ops, m * k);
      p.ops.copy(Z, z_.data(), m * k);
      p.ops.bias_activate(g_, T(alpha_), nullptr, Z, m, k);
      p.tracer->forward(z_.data(), Z, m, k);
      if (p.head == this) p.ops.copy(z_.data(), Z, m * k);
    }
    return Z;
  }

  // This layer and the int8 Dense layers after it, as one int8_chain (gemm_int8.hpp): each block of
  // rows goes through all of them while it is in cache. A layer joins when the one before it ends
  // in ReLU (the kernels' epilogue applies it) or in nothing. Not with a tracer (it needs every
  // layer's z and a).
  Index forward_fused(Pass<T>& p, const T* x, Index ldx, const LayerStack<T>& stack, Index i, const T** out) override {
    chain_.assign(1, this);
    for (Index j = i + 1; !p.tracer && j < stack.size(); ++j) {
      const Activation before = chain_.back()->activation(p);
      auto* next = dynamic_cast<DenseInt8*>(&stack[j]);
      if (!next || (before != Activation::Relu && before != Activation::Linear)) break;
      chain_.push_back(next);
    }
    *out = chain_.size() == 1 ? forward(p, x, ldx) : run_chain(p, x, ldx, true);  // forward: the tracer's way
    return Index(chain_.size()) - 1;
  }

  void backward(Pass<T>&, const T*, Index, T*, T*) override {
    throw std::invalid_argument(
        "a quantized (int8) Dense layer cannot be trained: train the float32 model, then quantize it");
  }

 private:
  void pack() {  // the kernel's copy of Wq, made once after bind()
    if (!packed_) pack_int8_weights(Wq_, s_, this->n_in_, this->n_out_, W8_);
    packed_ = true;
  }
  // chain_ (this layer first; kept between calls: no allocation per call) as one int8_chain into the
  // last layer's buffer. ReLU runs in the kernels' epilogue (one pass over Z), any other activation of
  // the last layer after it; none of the last layer's when !activate_last (the tracer takes its z).
  T* run_chain(Pass<T>& p, const T* x, Index ldx, bool activate_last) {
    if constexpr (sizeof(T) != 4) {
      throw std::invalid_argument("an int8 Dense layer needs a float32 model");
    } else {
      DenseInt8& last = *chain_.back();
      chain_layers_.clear();
      for (DenseInt8* l : chain_) {
        l->pack();
        const bool relu = l->activation(p) == Activation::Relu && (l != &last || activate_last);
        chain_layers_.push_back({&l->W8_, l->b_, relu});
      }
      const Index m = p.m, k = last.n_out_;
      last.a_.reserve(p.ops, m * k);
      T* Z = last.a_.data();
      // The quantization's min/max pass finds NaN and infinity: the network's own pass over its
      // inputs X is skipped (checks_finite_inputs); other inputs' bad rows give NaN rows of Z.
      if (!int8_chain(x, m, ldx, chain_layers_.data(), Index(chain_layers_.size()), Z, k) && x == p.X)
        throw InputNotFinite();
      const Activation g = last.activation(p);
      if (activate_last && g != Activation::Linear && g != Activation::Relu)
        p.ops.bias_activate(g, T(last.alpha_), nullptr, Z, m, k);
      return Z;
    }
  }
  // The activation this pass applies: none for the output layer (the loss activates it).
  Activation activation(const Pass<T>& p) const { return p.head == this ? Activation::Linear : g_; }

  Activation g_ = Activation::Linear;
  double alpha_ = 0.0;
  Init init_ = Init::Default;
  T *Wq_ = nullptr, *b_ = nullptr, *s_ = nullptr;
  Int8Weights W8_;
  bool packed_ = false;
  Buffer<T> a_, z_;
  std::vector<DenseInt8*> chain_;  // run_chain's layers
  std::vector<Int8Layer> chain_layers_;
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_dense_int8(const LayerConfig& c, Index n_in, const std::string& where) {
  return std::make_unique<DenseInt8<T>>(c, n_in, where);
}
template std::unique_ptr<Layer<float>> make_dense_int8<float>(const LayerConfig&, Index, const std::string&);
template std::unique_ptr<Layer<double>> make_dense_int8<double>(const LayerConfig&, Index, const std::string&);

}  // namespace fastmlp
