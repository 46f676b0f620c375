// Embedding (Keras's Embedding followed by Flatten): x holds k integer codes per row, each in
// [0, V); each code is replaced by its row of the table E (V x D), the k rows side by side:
//   y[i, j D .. j D + D) = E[x[i, j]]                       (m x k -> m x k D)
//   backward: dE[v] = sum of dy[i, j D .. j D + D) over every (i, j) with x[i, j] = v
// Codes are not differentiable (no dx): it must be the model's first layer, and the network checks
// the codes with the other inputs (check_inputs, called by Network::validate_inputs). No L2 on E
// (Keras puts no regularizer on it by default).
// Config: {"type": "Embedding", "n_in": 3, "input_dim": 10, "output_dim": 4[, "init": "normal"]}.
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "fastmlp/layer.hpp"
#include "fastmlp/network.hpp"  // Init, init_from_name, init_name
#include "fastmlp/random.hpp"

namespace fastmlp {

namespace {

constexpr Index kMaxSide = (Index(1) << 31) - 1;
constexpr Index kMaxParams = Index(1) << 40;
// float32 holds every integer up to 2^24 exactly; codes beyond would be rounded.
constexpr Index kMaxCodes32 = Index(1) << 24;

// Keras's embeddings_initializer: "uniform" in [-0.05, 0.05] (the default), "normal" with std
// 0.05, or a Dense init (fans: input_dim, output_dim).
enum class EmbeddingInit { Uniform, Normal, Dense };

template <class T>
class Embedding final : public Layer<T> {
 public:
  Embedding(const LayerConfig& c, Index n_in, const std::string& where) {
    ConfigReader r(c, where);
    const Index given = r.integer("n_in", 1, kMaxSide, n_in > 0 ? n_in : 0);
    V_ = r.integer("input_dim", 1, kMaxSide, 0);
    if (sizeof(T) == 4 && V_ > kMaxCodes32)
      throw std::invalid_argument(where + ".input_dim must be at most 2^24 = 16777216 in float32 (larger codes are " +
                                  "not all exact there), got " + std::to_string(V_) + "; use dtype='float64'");
    D_ = r.integer("output_dim", 1, kMaxSide, 0);
    const std::string init = r.text("init", "uniform");
    r.finish();
    if (init == "uniform") {
      init_ = EmbeddingInit::Uniform;
    } else if (init == "normal") {
      init_ = EmbeddingInit::Normal;
    } else {
      try {
        dense_init_ = init_from_name(init);
      } catch (const std::invalid_argument&) {
        dense_init_ = Init::Default;
      }
      if (dense_init_ == Init::Default)
        throw std::invalid_argument(where + ".init must be 'uniform', 'normal', 'glorot_uniform', 'glorot_normal', " +
                                    "'he_uniform' or 'he_normal', got '" + init.substr(0, 40) + "'");
      init_ = EmbeddingInit::Dense;
    }
    if (n_in > 0 && given != n_in)
      throw std::invalid_argument(where + " takes " + std::to_string(given) + " inputs but the layer before it gives " +
                                  std::to_string(n_in) + " outputs");
    if (given * D_ > kMaxSide)
      throw std::invalid_argument(where + ": " + std::to_string(given) + " codes x output_dim " + std::to_string(D_) +
                                  " outputs are too many (at most 2^31 - 1)");
    if (V_ * D_ > kMaxParams)
      throw std::invalid_argument(where + ": (" + std::to_string(V_) + ", " + std::to_string(D_) +
                                  ") is too large (at most 2^40 parameters in all)");
    this->n_in_ = given;
    this->n_out_ = given * D_;
  }
  const char* type() const override { return "Embedding"; }
  LayerConfig config() const override {
    LayerConfig c{"Embedding", {}, {}, false};
    c.set("n_in", ConfigValue::of(std::int64_t(this->n_in_)));
    c.set("input_dim", ConfigValue::of(std::int64_t(V_))).set("output_dim", ConfigValue::of(std::int64_t(D_)));
    if (init_ == EmbeddingInit::Normal) c.set("init", ConfigValue::of(std::string("normal")));
    if (init_ == EmbeddingInit::Dense) c.set("init", ConfigValue::of(std::string(init_name(dense_init_))));
    return c;
  }
  Index num_params() const override { return V_ * D_; }
  void tensors(const std::string& prefix, std::vector<TensorSlot>& out) const override {
    out.push_back({prefix + "embeddings", {V_, D_}, false, this->param_offset_});
  }
  void init(T* params, T*, Rng& rng) const override {
    T* E = params + this->param_offset_;
    double limit = 0.05, stddev = 0.05;
    bool uniform = init_ == EmbeddingInit::Uniform;
    if (init_ == EmbeddingInit::Dense) {
      const bool he = dense_init_ == Init::HeUniform || dense_init_ == Init::HeNormal;
      const double var = he ? 2.0 / double(V_) : 2.0 / double(V_ + D_);
      uniform = dense_init_ == Init::GlorotUniform || dense_init_ == Init::HeUniform;
      limit = std::sqrt(3.0 * var), stddev = std::sqrt(var);
    }
    for (Index i = 0; i < V_ * D_; ++i) E[i] = T(uniform ? (2.0 * rng.uniform() - 1.0) * limit : rng.normal() * stddev);
  }
  void bind(T* params, T* grads, T*) override { E_ = params + this->param_offset_, dE_ = grads + this->param_offset_; }
  bool input_only() const override { return true; }
  void check_inputs(const T* X, Index m, Index ldx) const override {
    for (Index i = 0; i < m; ++i)
      for (Index j = 0; j < this->n_in_; ++j) {
        const T v = X[i * ldx + j];
        if (v >= T(0) && v < T(V_) && v == std::floor(v)) continue;
        char shown[32];
        std::snprintf(shown, sizeof shown, "%.10g", double(v));
        throw std::invalid_argument("X[:, " + std::to_string(j) + "] holds " + shown + " at row " + std::to_string(i) +
                                    ": an Embedding takes integer codes in [0, input_dim = " + std::to_string(V_) +
                                    ")");
      }
  }
  bool strided_input() const override { return true; }

  const T* forward(Pass<T>& p, const T* x, Index ldx) override {
    y_.reserve(p.ops, p.m * this->n_out_);
    p.ops.gather_rows(x, p.m, this->n_in_, ldx, E_, V_, D_, y_.data(), this->n_out_);
    return y_.data();
  }
  // dE from dy (or, with SGD, E -= rate dE on the rows the batch's codes touch); no dx.
  void backward(Pass<T>& p, const T* x, Index ldx, T* dy, T* dx) override {
    if (dx) throw std::logic_error("an Embedding has no input gradient (its inputs are integer codes)");
    if (p.sgd_rate > T(0))
      p.ops.scatter_add_rows(x, p.m, this->n_in_, ldx, dy, this->n_out_, V_, D_, -p.sgd_rate, T(1), E_);
    else
      p.ops.scatter_add_rows(x, p.m, this->n_in_, ldx, dy, this->n_out_, V_, D_, T(1), T(0), dE_);
  }

 private:
  Index V_ = 0, D_ = 0;
  EmbeddingInit init_ = EmbeddingInit::Uniform;
  Init dense_init_ = Init::Default;
  T *E_ = nullptr, *dE_ = nullptr;
  Buffer<T> y_;
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_embedding(const LayerConfig& c, Index n_in, const std::string& where) {
  return std::make_unique<Embedding<T>>(c, n_in, where);
}
template std::unique_ptr<Layer<float>> make_embedding<float>(const LayerConfig&, Index, const std::string&);
template std::unique_ptr<Layer<double>> make_embedding<double>(const LayerConfig&, Index, const std::string&);

}  // namespace fastmlp
