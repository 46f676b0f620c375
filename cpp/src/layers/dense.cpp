// Dense: z = x W + b, a = g(z)   (W: n_in x n_out, row-major, exactly the NumPy shape).
//   backward: dz = dy * g'(z),  dx = dz W^T,  dW = x^T dz + l2 W,  db = 1^T dz
// As the output layer it leaves z (the loss applies g) and its backward starts from dz.
// Config: {"type": "Dense", "n_in": 4, "n_out": 8, "activation": "relu", "alpha": null[, "init": "he_normal"]}.
#include <cmath>
#include <stdexcept>
#include <string>

#include "fastmlp/activations.hpp"
#include "fastmlp/layer.hpp"
#include "fastmlp/network.hpp"  // Init, init_from_name
#include "fastmlp/random.hpp"

namespace fastmlp {

namespace {

constexpr Index kMaxSide = (Index(1) << 31) - 1;
constexpr Index kMaxParams = Index(1) << 40;
bool relu_like(Activation g) { return g == Activation::Relu || g == Activation::LeakyRelu || g == Activation::Elu; }

template <class T>
class Dense final : public Layer<T> {
 public:
  Dense(const LayerConfig& c, Index n_in, const std::string& where) {
    ConfigReader r(c, where);
    const Index given = r.integer("n_in", 1, kMaxSide, n_in > 0 ? n_in : 0);
    this->n_out_ = r.integer("n_out", 1, kMaxSide, 0);
    g_ = activation_from_name(r.text("activation", "linear"));
    alpha_ = read_alpha(r, g_);
    init_ = init_from_name(r.text("init", "default"));
    r.finish();
    if (n_in > 0 && given != n_in)
      throw std::invalid_argument(where + " takes " + std::to_string(given) + " inputs but the layer before it gives " +
                                  std::to_string(n_in) + " outputs");
    this->n_in_ = given;
    if (given * this->n_out_ + this->n_out_ > kMaxParams)
      throw std::invalid_argument(where + ": (" + std::to_string(given) + ", " + std::to_string(this->n_out_) +
                                  ") is too large (at most 2^40 parameters in all)");
  }
  const char* type() const override { return "Dense"; }
  LayerConfig config() const override {
    LayerConfig c{"Dense", {}, {}, false};
    c.set("n_in", ConfigValue::of(std::int64_t(this->n_in_))).set("n_out", ConfigValue::of(std::int64_t(this->n_out_)));
    c.set("activation", ConfigValue::of(std::string(activation_name(g_))));
    c.set("alpha", alpha_field(g_, alpha_));
    if (init_ != Init::Default) c.set("init", ConfigValue::of(std::string(init_name(init_))));
    return c;
  }
  Index num_params() const override { return this->n_in_ * this->n_out_ + this->n_out_; }
  void tensors(const std::string& prefix, std::vector<TensorSlot>& out) const override {
    out.push_back({prefix + "weight", {this->n_in_, this->n_out_}, false, this->param_offset_});
    out.push_back({prefix + "bias", {this->n_out_}, false, this->param_offset_ + this->n_in_ * this->n_out_});
  }
  // Uniform in +-sqrt(3 var) or normal with std sqrt(var): var = 2 / (n_in + n_out) (Glorot) or
  // 2 / n_in (He; the default for relu-like layers, Glorot otherwise); b = 0.
  void init(T* params, T*, Rng& rng) const override {
    Init init = init_;
    if (init == Init::Default) init = relu_like(g_) ? Init::HeUniform : Init::GlorotUniform;
    const bool he = init == Init::HeUniform || init == Init::HeNormal;
    const double var = he ? 2.0 / double(this->n_in_) : 2.0 / double(this->n_in_ + this->n_out_);
    const bool uniform = init == Init::GlorotUniform || init == Init::HeUniform;
    const double limit = std::sqrt(3.0 * var), stddev = std::sqrt(var);
    T* w = params + this->param_offset_;
    for (Index i = 0; i < this->n_in_ * this->n_out_; ++i)
      w[i] = T(uniform ? (2.0 * rng.uniform() - 1.0) * limit : rng.normal() * stddev);
    std::fill(w + this->n_in_ * this->n_out_, w + num_params(), T(0));
  }
  void bind(T* params, T* grads, T*) override {
    W_ = params + this->param_offset_, b_ = W_ + this->n_in_ * this->n_out_;
    dW_ = grads + this->param_offset_, db_ = dW_ + this->n_in_ * this->n_out_;
  }
  Activation output_activation(double* alpha) const override {
    if (alpha) *alpha = alpha_;
    return g_;
  }
  void weights(std::vector<std::pair<Index, Index>>& out) const override {
    out.emplace_back(this->param_offset_, this->n_in_ * this->n_out_);
  }
  bool strided_input() const override { return true; }
  bool checks_inputs_when_asked() const override { return true; }
  bool runs_in_row_blocks() const override { return true; }

  const T* forward(Pass<T>& p, const T* x, Index ldx) override {
    const Index m = p.m, d = this->n_in_, k = this->n_out_;
    a_.reserve(p.ops, m * k);
    T* Z = a_.data();  // z, activated in place into a
    // A training step's backward pass follows: the engine may keep x converted for dW (Ops::gemm_input).
    // Only the model's inputs, which come from memory: a hidden layer's x is still in cache, where writing
    // and reading the copy costs what converting x again saves (bench/bf16_step.cpp on a Zen 5 core: the
    // step's products 1.01-1.04x faster keeping the first layer's x, no better keeping every layer's;
    // one-epoch fits 1.04x at batch 512, 1.00x at 2048; bench/RESULTS_BF16.md). The copy takes 2 bytes
    // per element of a batch of x (3.2 MB at 2048 x 784); another pass drops it, so that no backward pass
    // takes an earlier step's copy for its x.
    const bool keep = p.draw.norm == NormMode::Train && x == p.X;
    if (!keep) x_kept_.reset();
    bool finite = true;  // checked where asked (a fit's first epoch: DropoutDraw::check_inputs)
    p.ops.gemm_input(m, d, k, x, ldx, W_, Z, keep ? &x_kept_ : nullptr,
                     p.draw.check_inputs && x == p.X ? &finite : nullptr);
    if (!finite) throw InputNotFinite();
    const bool head = p.head == this;
    const Activation g = head ? Activation::Linear : g_;  // the loss activates the output layer
    keeps_z_ = !head && needs_z(g);
    if (p.tracer || keeps_z_) {  // z kept (g' of gelu, silu, mish reads it; the trace shows it)
      z_.reserve(p.ops, m * k);
      p.ops.bias_activate(Activation::Linear, T(0), b_, Z, m, k);
      p.ops.copy(Z, z_.data(), m * k);
      keeps_z_ = true;
      if (p.tracer) {
        p.ops.bias_activate(g_, T(alpha_), nullptr, Z, m, k);
        p.tracer->forward(z_.data(), Z, m, k);
        if (head) p.ops.copy(z_.data(), Z, m * k);  // the output layer keeps z
      } else {
        p.ops.bias_activate(g, T(alpha_), nullptr, Z, m, k);
      }
    } else {
      p.ops.bias_activate(g, T(alpha_), b_, Z, m, k);  // bias and activation in one pass
    }
    return Z;
  }

  void backward(Pass<T>& p, const T* x, Index ldx, T* dy, T* dx) override {
    const Index m = p.m, d = this->n_in_, k = this->n_out_;
    T* dz = dy;
    if (p.head != this) p.ops.activation_backward(g_, T(alpha_), a_.data(), keeps_z_ ? z_.data() : nullptr, dz, m, k);
    if (p.tracer) p.tracer->delta(dz, m, k);
    const T rate = p.sgd_rate;
    if (rate > T(0) && m == 1 && p.ops.sgd_rank1(d, k, T(1) - rate * p.l2, -rate, x, dz, W_, dx)) {
      p.ops.axpby(-rate, dz, T(1), b_, k);  // one sample: dx (old W) and the update in one pass over W
      return;
    }
    // dx before the update: it needs W before the update changes it.
    if (dx) p.ops.gemm(false, true, m, d, k, T(1), dz, k, W_, k, T(0), dx, d);
    if (rate > T(0)) {  // W <- (1 - rate l2) W - rate x^T dz,  b <- b - rate 1^T dz
      if (p.l2 != T(0)) p.ops.axpby(T(0), W_, T(1) - rate * p.l2, W_, d * k);
      p.ops.gemm_input_t(m, d, k, -rate, x, ldx, dz, T(1), W_, &x_kept_);
      p.ops.column_sums(dz, m, k, -rate, T(1), b_);
    } else {  // dW = x^T dz + l2 W,  db = 1^T dz  (accumulate: a later block adds its x^T dz and 1^T dz)
      const T beta = p.accumulate ? T(1) : T(0);
      p.ops.gemm_input_t(m, d, k, T(1), x, ldx, dz, beta, dW_, &x_kept_);
      if (p.l2 != T(0) && !p.accumulate) p.ops.axpby(p.l2, W_, T(1), dW_, d * k);
      p.ops.column_sums(dz, m, k, T(1), beta, db_);
    }
  }

 private:
  Activation g_ = Activation::Linear;
  double alpha_ = 0.0;
  Init init_ = Init::Default;
  T *W_ = nullptr, *b_ = nullptr, *dW_ = nullptr, *db_ = nullptr;
  Buffer<T> a_, z_;
  bool keeps_z_ = false;
  std::unique_ptr<KeptInput> x_kept_;  // the engine's copy of this training step's x (Ops::gemm_input)
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_dense_int8(const LayerConfig& c, Index n_in,
                                          const std::string& where);  // dense_int8.cpp

template <class T>
std::unique_ptr<Layer<T>> make_dense(const LayerConfig& c, Index n_in, const std::string& where) {
  if (c.find("quantize")) return make_dense_int8<T>(c, n_in, where);  // model.quantize("int8")
  return std::make_unique<Dense<T>>(c, n_in, where);
}
template std::unique_ptr<Layer<float>> make_dense<float>(const LayerConfig&, Index, const std::string&);
template std::unique_ptr<Layer<double>> make_dense<double>(const LayerConfig&, Index, const std::string&);

}  // namespace fastmlp
