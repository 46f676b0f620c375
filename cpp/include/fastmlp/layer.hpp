// Layer<T>: the unit of a network. A layer owns its config (the model file's entry), its
// parameter and state sizes, its tensors' names, its initialisation, its checks, and its forward
// and backward passes written once over an engine's primitive operations (ops.hpp). LayerStack<T>
// is a list of layers with THE layer loop (forward in order, backward in reverse); a network is
// one stack, a Residual block holds another. Plain C++ (no Eigen): the CUDA engine runs the same
// layers on its own Ops.
//
// Kinds (each in its own file in cpp/src/layers/, named in one table, layer_kinds.cpp):
//   Dense(n_out, activation)      z = x W + b, a = g(z)
//   BatchNormalization / LayerNormalization   y = gamma x_hat + beta (network.hpp has the formulas)
//   Dropout(rate)                 y = x * M in training (inverted dropout), y = x otherwise
//   Activation(activation)        a = g(x)
//   Residual(layers)              y = x + f(x), f the inner layers
//   Embedding(input_dim, output_dim)  the rows of E at the k integer codes of x, side by side
//
// The output layer (the stack's last layer) must be a Dense or an Activation: the loss applies
// its activation (losses.hpp fuses softmax + cross-entropy), so the forward pass leaves z there
// and the backward pass starts from delta = dJ/dz.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fastmlp/ops.hpp"

namespace fastmlp {

class Rng;

// One field of a layer's config: null, an integer, a number, a text or a boolean (a JSON scalar).
struct ConfigValue {
  enum class Kind { Null, Integer, Number, Text, Bool };
  Kind kind = Kind::Null;
  std::int64_t integer = 0;
  double number = 0.0;
  std::string text;
  bool flag = false;
  static ConfigValue null() { return {}; }
  static ConfigValue of(std::int64_t v) { return {Kind::Integer, v, double(v), {}, false}; }
  static ConfigValue of(double v) { return {Kind::Number, 0, v, {}, false}; }
  static ConfigValue of(std::string v) { return {Kind::Text, 0, 0.0, std::move(v), false}; }
  static ConfigValue of(bool v) { return {Kind::Bool, 0, 0.0, {}, v}; }
};

// Blocks (Residual) nest at most this deep: a Residual in a Residual in a Residual. The model file's
// "layers" JSON is read to that depth only (model_schema.cpp), a deeper block is refused where a network
// is built (residual.cpp: std::invalid_argument) and, earlier, by Python's fastmlp.layers.Residual: no
// network exists that could not be saved and loaded again.
inline constexpr int kMaxBlockNesting = 3;

// A layer's config: its type, its fields in the file's order and, for a block, its inner layers.
struct LayerConfig {
  std::string type;
  std::vector<std::pair<std::string, ConfigValue>> fields;
  std::vector<LayerConfig> layers;
  bool is_block = false;  // has "layers" (possibly empty)
  const ConfigValue* find(const std::string& key) const {
    for (const auto& [k, v] : fields)
      if (k == key) return &v;
    return nullptr;
  }
  LayerConfig& set(const std::string& key, ConfigValue v) {
    fields.emplace_back(key, std::move(v));
    return *this;
  }
};

// A parameter or state tensor of a layer: its name ("weight", "gamma", ...; the stack prefixes
// "layers.<i>."), shape, and place (offset into the parameter or the state buffer).
struct TensorSlot {
  std::string name;
  std::vector<Index> shape;
  bool state = false;
  Index offset = 0;
  bool int8 = false;  // integers in [-63, 63] kept as T: the model file stores them as I8 (quantized Dense)
};

// Where dropout masks come from: `rng`, drawn as for a batch of rows_before + m + rows_after
// rows of which this batch holds the middle m (data parallelism: the other rows are other
// processes'; one process: both 0). No rng: no dropout (inference). `norm`: how batch
// normalization runs in this pass.
struct DropoutDraw {
  Rng* rng = nullptr;
  Index rows_before = 0, rows_after = 0;
  NormMode norm = NormMode::Inference;
  // The first layer checks the model's inputs for NaN and infinity as it converts them, and throws
  // InputNotFinite (a fit's first epoch where Network::checks_in_training; the layer must honour it).
  bool check_inputs = false;
};

// The error for a NaN or an infinity in the model's inputs X, wherever it is found: Network::validate_inputs,
// an int8 first layer's quantization, a first layer asked by DropoutDraw::check_inputs (the training loop
// then rolls the fit back before it goes up).
struct InputNotFinite : std::invalid_argument {
  InputNotFinite() : std::invalid_argument("X contains NaN or infinity") {}
};

// Host-only observer of a pass (Network::trace): every Dense layer reports z and a in the
// forward pass (in order) and delta = dJ/dz in the backward pass (in reverse order).
template <class T>
struct Tracer {
  virtual ~Tracer() = default;
  virtual void forward(const T* z, const T* a, Index m, Index k) = 0;
  virtual void delta(const T* d, Index m, Index k) = 0;
};

template <class T>
class Layer;
template <class T>
class LayerStack;

// One pass over a batch of m rows.
template <class T>
struct Pass {
  Ops<T>& ops;
  Index m = 0;
  DropoutDraw draw;                // forward: dropout masks and the normalization mode
  T sgd_rate = T(0);               // backward: > 0 fuses W <- W - rate dW (no gradient buffer)
  T l2 = T(0);                     // backward: dW += l2 W
  const Layer<T>* head = nullptr;  // the output layer: its activation is the loss's
  Tracer<T>* tracer = nullptr;     // host memory only
  const T* X = nullptr;            // forward: the model's inputs, when they come from Network (checks_finite_inputs)
  bool accumulate = false;         // backward: add to the gradient buffer (a batch's later row block)
};

template <class T>
class Layer {
 public:
  virtual ~Layer() = default;
  virtual const char* type() const = 0;
  Index n_in() const { return n_in_; }
  Index n_out() const { return n_out_; }
  // The file's entry.
  virtual LayerConfig config() const = 0;

  // Parameters and state: counts, laid out from the offsets given (layout), named (tensors),
  // initialised in host memory (init), and bound to the engine's buffers (bind).
  virtual Index num_params() const { return 0; }
  virtual Index num_state() const { return 0; }
  virtual void layout(Index& params, Index& state) {
    param_offset_ = params, state_offset_ = state;
    params += num_params(), state += num_state();
  }
  virtual void tensors(const std::string& prefix, std::vector<TensorSlot>& out) const { (void)prefix, (void)out; }
  virtual void init(T* params, T* state, Rng& rng) const { (void)params, (void)state, (void)rng; }
  virtual void bind(T* params, T* grads, T* state) { (void)params, (void)grads, (void)state; }

  // The output activation when this is the output layer (Dense, Activation); others throw.
  virtual Activation output_activation(double* alpha) const;
  // Uniform draws per row of a training pass (dropout masks), for processes that skip them.
  virtual Index dropout_draws_per_row() const { return 0; }
  // Offsets of the L2-penalised weights (Dense W: offset, count), depth first.
  virtual void weights(std::vector<std::pair<Index, Index>>& out) const { (void)out; }
  // Every layer, depth first: this one, then a block's inner layers and a nullptr (the block's end).
  virtual void walk(std::vector<const Layer*>& out) const { out.push_back(this); }
  // True for a layer that reads the model's inputs only and gives no dx (Embedding: integer
  // codes): it must be the model's first layer (Network::setup refuses it elsewhere).
  virtual bool input_only() const { return false; }
  // As the model's first layer: checks the inputs X (m x n_in, row stride ldx, host memory) beyond
  // their being finite (Network::validate_inputs); throws std::invalid_argument naming X[:, j].
  virtual void check_inputs(const T* X, Index m, Index ldx) const { (void)X, (void)m, (void)ldx; }
  // True for a layer whose forward pass, given x == p.X holding a NaN or an infinity, throws
  // std::invalid_argument("X contains NaN or infinity") before the network's outputs change (the
  // int8 Dense: its quantization's min/max pass sees every input anyway). As the first layer, it
  // spares Network::validate_inputs its own pass over X.
  virtual bool checks_finite_inputs() const { return false; }
  // Whether a batch may run through it as row blocks, one after the other (Network::train_step): its
  // forward pass gives a block of rows the same rows it gives them in the batch (no statistics over the
  // batch, no masks drawn per batch), and its backward pass honours Pass::accumulate.
  virtual bool runs_in_row_blocks() const { return false; }
  // Whether its forward pass honours DropoutDraw::check_inputs (a Dense layer does).
  virtual bool checks_inputs_when_asked() const { return false; }

  // Forward: x (m x n_in, row stride ldx) -> the output (m x n_out, contiguous), returned:
  // the layer's own buffer or x itself. Only a layer with strided_input() gets ldx != n_in.
  virtual const T* forward(Pass<T>& p, const T* x, Index ldx) = 0;
  virtual bool strided_input() const { return false; }
  // Forward through this layer, stack[i], and the layers after it that it runs together with it
  // (the int8 Dense: a chain of int8 Dense layers, in blocks of rows that stay in cache from one
  // layer to the next): returns how many of those it ran too, and the output of the last one in
  // *out. The fused layers' own outputs are not kept (inference only: none of them can train).
  virtual Index forward_fused(Pass<T>& p, const T* x, Index ldx, const LayerStack<T>& stack, Index i, const T** out) {
    (void)stack, (void)i;
    *out = forward(p, x, ldx);
    return 0;
  }
  // Backward: dy = dJ/d(output) (m x n_out; the layer may overwrite it) -> dx = dJ/dx (m x n_in)
  // into `dx` (null: not needed), and the layer's gradients into the gradient buffer (or, with
  // p.sgd_rate > 0, the SGD update of its parameters). x, ldx: the forward pass's input.
  virtual void backward(Pass<T>& p, const T* x, Index ldx, T* dy, T* dx) = 0;
  // True when backward may be given dx == dy (element-wise layers: n_in == n_out).
  virtual bool backward_in_place() const { return false; }
  // A buffer for dx (m x n_in) when the loop needs one.
  T* dx_buffer(Ops<T>& ops, Index m) {
    dx_.reserve(ops, m * n_in_);
    return dx_.data();
  }

 protected:
  Index n_in_ = 0, n_out_ = 0;
  Index param_offset_ = 0, state_offset_ = 0;
  Buffer<T> dx_;
};

// A list of layers and the one layer loop.
template <class T>
class LayerStack {
 public:
  // Builds the layers of `configs`, the first taking n_in inputs (n_in < 0: the first layer's
  // config names it, as a Dense's "n_in"); `where` prefixes messages ("layers"). Throws
  // std::invalid_argument naming the layer (layers[i]...) and the field.
  LayerStack(const std::vector<LayerConfig>& configs, Index n_in, const std::string& where = "layers");
  LayerStack(const LayerStack& o) : LayerStack(o.configs(), o.n_in()) {}
  LayerStack& operator=(const LayerStack&) = delete;
  ~LayerStack();

  Index size() const { return Index(layers_.size()); }
  Layer<T>& operator[](Index i) const { return *layers_[std::size_t(i)]; }
  Index n_in() const { return n_in_; }
  Index n_out() const { return layers_.back()->n_out(); }
  std::vector<LayerConfig> configs() const;

  Index num_params() const;
  Index num_state() const;
  void layout(Index& params, Index& state);
  // Tensors named "<prefix><i>.<name>" (prefix "layers."), in the buffers' order.
  void tensors(const std::string& prefix, std::vector<TensorSlot>& out) const;
  void init(T* params, T* state, Rng& rng) const;
  void bind(T* params, T* grads, T* state);
  void walk(std::vector<const Layer<T>*>& out) const;

  // THE layer loop. forward: x (m x n_in, row stride ldx) -> the output (m x n_out). backward
  // after forward: dy = dJ/d(output) (overwritten) -> dx = dJ/dx (null: not needed).
  const T* forward(Pass<T>& p, const T* x, Index ldx);
  void backward(Pass<T>& p, T* dy, T* dx);

 private:
  std::vector<std::unique_ptr<Layer<T>>> layers_;
  std::vector<const T*> inputs_;  // of each layer, in the latest forward pass
  Index ldx_ = 0, n_in_ = 0;      // the first layer's input row stride; the stack's inputs
  Buffer<T> contiguous_;          // a strided input copied for a first layer that needs it dense
};

// The layer kinds (layer_kinds.cpp): a new layer of `config`'s type taking n_in inputs; throws
// std::invalid_argument naming `where` for an unknown type or a bad field.
template <class T>
std::unique_ptr<Layer<T>> make_layer(const LayerConfig& config, Index n_in, const std::string& where);
// The type names, in the table's order (the one registry of layer kinds; Python reads it).
std::vector<std::string> layer_types();
std::string layer_type_names();  // "'Dense', ... or 'Residual'"

// Reads a config's fields for a layer's constructor; every field must be read (finish()).
class ConfigReader {
 public:
  ConfigReader(const LayerConfig& c, std::string where) : c_(c), where_(std::move(where)), used_(c.fields.size()) {}
  const std::string& where() const { return where_; }
  // An integer in [lo, hi]; absent: `fallback` (< lo: required).
  Index integer(const std::string& key, Index lo, Index hi, Index fallback);
  // A finite number; absent or null: fallback. check(v) false: "must be <what>".
  double number(const std::string& key, double fallback, bool (*check)(double), const char* what);
  // A text; absent or null: fallback.
  std::string text(const std::string& key, const std::string& fallback);
  // A boolean; absent or null: fallback.
  bool flag(const std::string& key, bool fallback);
  bool has(const std::string& key) const;
  // Throws for a field nobody read.
  void finish() const;

 private:
  const ConfigValue* take(const std::string& key);
  const LayerConfig& c_;
  std::string where_;
  std::vector<char> used_;
};

// The `alpha` field of a layer with activation g (Dense, DenseInt8, Activation), one rule for all:
// leaky_relu and elu take it (finite and >= 0; absent: default_alpha), the others ignore it and
// their config() writes null.
double read_alpha(ConfigReader& r, Activation g);
ConfigValue alpha_field(Activation g, double alpha);

}  // namespace fastmlp
