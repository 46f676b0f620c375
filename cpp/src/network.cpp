#include "fastmlp/network.hpp"
#include "fastmlp/names.hpp"

#include "fastmlp/gemm.hpp"
#include "fastmlp/gemm_bf16.hpp"  // gemm_bf16_keeps
#include "fastmlp/threads.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_set>

namespace fastmlp {

namespace {
std::string shape(Index r, Index c) { return "(" + std::to_string(r) + ", " + std::to_string(c) + ")"; }

// The live CopyableMutexes (network.hpp) and the fork handlers that unlock them in a child process.
struct ForkRegistry {
  std::mutex guard;
  std::unordered_set<CopyableMutex*> live;
};
ForkRegistry& fork_registry() {
  static ForkRegistry* const registry = [] {
    auto* r = new ForkRegistry;  // never destroyed: a fork may come after static destruction began
    pthread_atfork([] { fork_registry().guard.lock(); },  // the set stays whole across the fork
                   [] { fork_registry().guard.unlock(); },
                   [] {
                     ForkRegistry& f = fork_registry();
                     // The child has only the forking thread. A mutex it cannot take was held by a
                     // thread that the child lacks (or by the forking thread under its old thread
                     // id): it becomes a new, unlocked one, so the child can use the model.
                     for (CopyableMutex* c : f.live) {
                       if (c->m.try_lock())
                         c->m.unlock();
                       else
                         new (&c->m) std::recursive_mutex();
                     }
                     new (&f.guard) std::mutex();  // locked by the prepare handler in the parent
                   });
    return r;
  }();
  return *registry;
}
}  // namespace

CopyableMutex::CopyableMutex() {
  ForkRegistry& f = fork_registry();
  std::lock_guard<std::mutex> lock(f.guard);
  f.live.insert(this);
}

CopyableMutex::~CopyableMutex() {
  ForkRegistry& f = fork_registry();
  std::lock_guard<std::mutex> lock(f.guard);
  f.live.erase(this);
}

namespace {
constexpr Named<Init> kInits[] = {{Init::Default, "default"},
                                  {Init::GlorotUniform, "glorot_uniform"},
                                  {Init::GlorotUniform, "xavier_uniform"},
                                  {Init::GlorotNormal, "glorot_normal"},
                                  {Init::GlorotNormal, "xavier_normal"},
                                  {Init::HeUniform, "he_uniform"},
                                  {Init::HeUniform, "kaiming_uniform"},
                                  {Init::HeNormal, "he_normal"},
                                  {Init::HeNormal, "kaiming_normal"}};
}  // namespace

Init init_from_name(const std::string& name) { return from_name(kInits, name, "init"); }
namespace {
constexpr Named<Norm> kNorms[] = {{Norm::None, "none"}, {Norm::Batch, "batch"}, {Norm::Layer, "layer"}};
}  // namespace
Norm norm_from_name(const std::string& name) { return from_name(kNorms, name, "normalization"); }
const char* norm_name(Norm norm) { return name_of(kNorms, norm); }
const char* init_name(Init init) { return name_of(kInits, init); }

void validate_layer(const LayerSpec& s) {
  if (s.n_in <= 0 || s.n_out <= 0)
    throw std::invalid_argument("n_in and n_out must be positive, got " + shape(s.n_in, s.n_out));
  constexpr Index kMaxSide = (Index(1) << 31) - 1;
  if (s.n_in > kMaxSide || s.n_out > kMaxSide)
    throw std::invalid_argument("n_in and n_out are too large (at most 2^31 - 1 each), got " + shape(s.n_in, s.n_out));
  if (!(s.dropout >= 0.0 && s.dropout < 1.0))
    throw std::invalid_argument("dropout rate must be in [0, 1), got " + std::to_string(s.dropout));
  if (!std::isfinite(s.alpha) || s.alpha < 0.0)
    throw std::invalid_argument("alpha must be finite and >= 0, got " + std::to_string(s.alpha));
  if (!(s.norm_epsilon > 0.0) || !std::isfinite(s.norm_epsilon))
    throw std::invalid_argument("epsilon must be a finite number > 0, got " + std::to_string(s.norm_epsilon));
  if (!(s.norm_momentum >= 0.0 && s.norm_momentum < 1.0))
    throw std::invalid_argument("momentum must be in [0, 1), got " + std::to_string(s.norm_momentum));
}

std::vector<LayerConfig> layer_configs(const LayerSpec& s) {
  std::vector<LayerConfig> out;
  LayerConfig dense{"Dense", {}, {}, false};
  dense.set("n_in", ConfigValue::of(std::int64_t(s.n_in))).set("n_out", ConfigValue::of(std::int64_t(s.n_out)));
  dense.set("activation", ConfigValue::of(std::string(activation_name(s.activation))));
  dense.set("alpha", alpha_field(s.activation, s.alpha));
  if (s.init != Init::Default) dense.set("init", ConfigValue::of(std::string(init_name(s.init))));
  out.push_back(std::move(dense));
  if (s.norm != Norm::None) {
    LayerConfig norm{s.norm == Norm::Batch ? "BatchNormalization" : "LayerNormalization", {}, {}, false};
    norm.set("epsilon", ConfigValue::of(s.norm_epsilon));
    if (s.norm == Norm::Batch) norm.set("momentum", ConfigValue::of(s.norm_momentum));
    out.push_back(std::move(norm));
  }
  if (s.dropout > 0.0) out.push_back(LayerConfig{"Dropout", {{"rate", ConfigValue::of(s.dropout)}}, {}, false});
  return out;
}

namespace {
std::vector<LayerConfig> configs_of(const std::vector<LayerSpec>& specs) {
  if (specs.empty()) throw std::invalid_argument("layers: a network needs at least one layer");
  std::vector<LayerConfig> out;
  for (std::size_t l = 0; l < specs.size(); ++l) {
    const auto& s = specs[l];
    const std::string where = "layers[" + std::to_string(l) + "]";
    try {
      validate_layer(s);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(where + ": " + e.what());
    }
    if (l > 0 && s.n_in != specs[l - 1].n_out)
      throw std::invalid_argument(where + " takes " + std::to_string(s.n_in) + " inputs but layers[" +
                                  std::to_string(l - 1) + "] gives " + std::to_string(specs[l - 1].n_out) + " outputs");
    if (l + 1 == specs.size() && s.dropout > 0.0)
      throw std::invalid_argument(where + ": the output layer cannot have dropout");
    if (l + 1 == specs.size() && s.norm != Norm::None)
      throw std::invalid_argument(where + ": the output layer cannot be normalized");
    for (auto& c : layer_configs(s)) out.push_back(std::move(c));
  }
  return out;
}
}  // namespace

template <class T>
Network<T>::Network(const std::vector<LayerConfig>& configs, Index n_inputs, Loss loss, T l2)
    : ops_(make_cpu_ops<T>(&mixed_bf16_)), stack_(configs, n_inputs), loss_(loss), l2_(0) {
  setup();
  set_l2(l2);
}

template <class T>
Network<T>::Network(std::vector<LayerSpec> layers, Loss loss, T l2) : Network(configs_of(layers), -1, loss, l2) {}

template <class T>
Network<T>::Network(const Network& o)
    : mixed_bf16_(o.mixed_bf16_), ops_(make_cpu_ops<T>(&mixed_bf16_)), stack_(o.stack_), loss_(o.loss_), l2_(o.l2_) {
  setup();
  params_ = o.params_;
  state_ = o.state_;
}

template <class T>
void Network<T>::set_mixed_bf16(bool on) {
  if (on && !std::is_same_v<T, float>)
    throw std::invalid_argument("mixed_bfloat16 needs a float32 network (its master weights are float32)");
  mixed_bf16_ = on;
}

// The buffers, the layers bound to them, and what the network reads off its layers: the Dense
// layers as LayerSpecs (with the normalization and Dropout right after them), the tensors, the
// L2-penalised weights, the output activation, the dropout draws.
template <class T>
void Network<T>::setup() {
  Index n_params = 0, n_state = 0;
  stack_.layout(n_params, n_state);
  params_ = Vector<T>::Zero(n_params);
  grads_ = Vector<T>::Zero(n_params);
  state_ = Vector<T>::Zero(n_state);
  stack_.bind(params_.data(), grads_.data(), state_.data());
  tensors_.clear();
  stack_.tensors("layers.", tensors_);
  weights_.clear();
  dropout_draws_ = 0;
  for (Index i = 0; i < stack_.size(); ++i) {
    stack_[i].weights(weights_);
    dropout_draws_ += stack_[i].dropout_draws_per_row();
  }
  double alpha = 0.0;
  out_g_ = stack_[stack_.size() - 1].output_activation(&alpha);
  out_alpha_ = T(alpha);
  check_loss_output(loss_, out_g_);
  // layers(): each Dense, with what follows it in the same stack
  std::vector<const Layer<T>*> all;
  stack_.walk(all);
  for (std::size_t i = 1; i < all.size(); ++i)  // an Embedding reads the inputs: only the first layer may
    if (all[i] && all[i]->input_only()) {
      std::string where = "layers";  // the top-level index when it has one
      for (Index j = 0; j < stack_.size(); ++j)
        if (&stack_[j] == all[i]) where += "[" + std::to_string(j) + "]";
      throw std::invalid_argument(where + ": the " + all[i]->type() +
                                  " layer must be the model's first layer (it reads integer codes from X and has no "
                                  "input gradient), not after another layer or inside a Residual");
    }
  std::vector<TensorSlot> own;
  specs_.clear();
  dense_.clear();
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (!all[i]) continue;  // a block's end
    const std::string type = all[i]->type();
    const LayerConfig c = all[i]->config();
    if (type == "Dense") {
      LayerSpec s;
      s.n_in = all[i]->n_in();
      s.n_out = all[i]->n_out();
      double a = 0.0;
      s.activation = all[i]->output_activation(&a);
      s.alpha = a;
      if (const ConfigValue* init = c.find("init")) s.init = init_from_name(init->text);
      own.clear();
      all[i]->tensors("", own);
      specs_.push_back(s);
      dense_.push_back({own[0].offset, -1, -1});
      continue;
    }
    // a normalization right after a Dense, a Dropout right after either (the same block)
    const std::string prev = i > 0 && all[i - 1] ? all[i - 1]->type() : "";
    const bool norm = type == "BatchNormalization" || type == "LayerNormalization";
    if (norm && prev == "Dense") {
      LayerSpec& s = specs_.back();
      s.norm = type == "BatchNormalization" ? Norm::Batch : Norm::Layer;
      s.norm_epsilon = c.find("epsilon")->number;
      if (s.norm == Norm::Batch) s.norm_momentum = c.find("momentum")->number;
      own.clear();
      all[i]->tensors("", own);
      dense_.back().norm = own[0].offset;
      if (own.size() > 2) dense_.back().state = own[2].offset;
    } else if (type == "Dropout" && (prev == "Dense" || prev == "BatchNormalization" || prev == "LayerNormalization")) {
      specs_.back().dropout = c.find("rate")->number;
    }
  }
  in_blocks_ = std::all_of(all.begin(), all.end(), [](const Layer<T>* l) { return !l || l->runs_in_row_blocks(); });
  for (auto& state_slot : dense_)
    if (state_slot.state < 0) state_slot.state = 0;
  // Usable before init_params: gamma 1, running variance 1, weights and biases 0.
  Rng unused(0);
  stack_.init(params_.data(), state_.data(), unused);
  for (const auto& [offset, count] : weights_)
    std::fill(params_.data() + offset, params_.data() + offset + count, T(0));
}

template <class T>
bool Network<T>::has_batch_norm() const {
  std::vector<const Layer<T>*> all;
  stack_.walk(all);
  return std::any_of(all.begin(), all.end(),
                     [](const Layer<T>* l) { return l && std::string(l->type()) == "BatchNormalization"; });
}

template <class T>
void Network<T>::set_l2(T l2) {
  if (!(l2 >= T(0)) || !std::isfinite(double(l2)))
    throw std::invalid_argument("l2 must be a finite number >= 0, got " + std::to_string(double(l2)));
  l2_ = l2;
}

template <class T>
void Network<T>::init_params(std::uint64_t seed) {
  Rng rng(seed);
  stack_.init(params_.data(), state_.data(), rng);
}

template <class T>
void Network<T>::validate_inputs(const ConstRef<T>& X, bool check_finite) const {
  if (X.rows() == 0 || X.cols() == 0) throw std::invalid_argument("X is empty: shape " + shape(X.rows(), X.cols()));
  if (X.cols() != n_inputs())
    throw std::invalid_argument("X has " + std::to_string(X.cols()) + " features but the model expects " +
                                std::to_string(n_inputs()) + ": X shape " + shape(X.rows(), X.cols()));
  if (check_finite && !stack_[0].checks_finite_inputs()) {  // else the first layer's forward pass checks (layer.hpp)
    std::atomic<bool> finite{true};
    parallel_elementwise(X.rows(), X.size(), 1, [&](Index i0, Index i1) {
      if (!rows_finite(X.data() + i0 * X.outerStride(), i1 - i0, X.cols(), X.outerStride())) finite = false;
    });
    if (!finite) throw InputNotFinite();
  }
  stack_[0].check_inputs(X.data(), X.rows(), X.outerStride());  // e.g. an Embedding's integer codes
}

template <class T>
void Network<T>::validate(const ConstRef<T>& X, const Targets<T>& Y, bool check_finite) const {
  validate_inputs(X, check_finite);
  validate_targets(loss_, Y, X.rows(), n_outputs());
}

template <class T>
bool Network<T>::checks_in_training(Index batch_rows) const {
  if constexpr (std::is_same_v<T, float>)
    return mixed_bf16_ && stack_[0].checks_inputs_when_asked() && gemm_bf16_keeps(batch_rows);
  (void)batch_rows;
  return false;
}

// Forward pass: the one layer loop; the output layer keeps z_L.
template <class T>
void Network<T>::forward_pass(const ConstRef<T>& X, const DropoutDraw& dropout, Tracer<T>* tracer) {
  Pass<T> p = pass(X.rows());
  p.draw = dropout;
  p.tracer = tracer;
  p.X = X.data();  // a first layer that checks_finite_inputs() checks these
  out_ = const_cast<T*>(stack_.forward(p, X.data(), X.outerStride()));  // the output layer's own buffer
  rows_ = X.rows();
}

template <class T>
MatrixMap<T> Network<T>::forward_unchecked(const ConstRef<T>& X) {
  const ReadOnlyProducts read_only;  // inference: even one sample's products may use every core
  forward_pass(X);
  auto A = MatrixMap<T>(out_, X.rows(), n_outputs());
  activate<T>(out_g_, out_alpha_, A);
  return A;
}

template <class T>
MatrixMap<T> Network<T>::forward(const ConstRef<T>& X) {
  validate_inputs(X);
  auto A = forward_unchecked(X);
  validate_outputs(A.data(), A.rows());
  return A;
}

template <class T>
void Network<T>::validate_outputs(const T* A, Index m) const {
  // NaN is never an output: it comes from inf - inf or 0 * inf inside the layers, i.e. finite inputs
  // whose values overflow (e.g. float32 near 3e38), or weights that are not finite. Say which instead
  // of handing back NaN probabilities. (An infinite output of a linear or exp layer is an honest
  // overflow and stays.) m x n_outputs entries: cheap next to the products.
  const Index n = m * n_outputs();
  if (std::none_of(A, A + n, [](T v) { return std::isnan(v); })) return;
  if (!all_finite(params_.data(), num_params()))
    throw std::invalid_argument(
        "the model's parameters are not all finite (did training diverge?): its outputs are NaN");
  throw std::invalid_argument("X: the network's outputs are NaN: the inputs are finite but their values overflow " +
                              std::string(sizeof(T) == 4 ? "float32" : "float64") +
                              " inside the layers; scale or standardize the inputs, or use dtype='float64'");
}

template <class T>
T Network<T>::l2_penalty() const {
  if (l2_ == T(0)) return T(0);
  T s = 0;
  for (const auto& [offset, count] : weights_)
    s += Eigen::Map<const Vector<T>>(params_.data() + offset, count).squaredNorm();
  return T(0.5) * l2_ * s;
}

// Output error: J = loss(a_L, y) + (l2 / 2) sum ||W||^2, and delta_L = dJ/dz_L (losses.hpp).
template <class T>
T Network<T>::output_error(const Targets<T>& Y, bool want_delta, Index* correct) {
  return loss_of_rows(Y, want_delta, correct) + l2_penalty();
}

template <class T>
T Network<T>::loss_of_rows(const Targets<T>& Y, bool want_delta, Index* correct) {
  const Index m = rows_, k = n_outputs();
  auto a_L = MatrixMap<T>(out_, m, k);  // holds z_L; output_loss activates it
  delta_.reserve(*ops_, m * k);
  auto delta_L = MatrixMap<T>(delta_.data(), m, k);
  const T J = output_loss<T>(loss_, out_g_, out_alpha_, a_L, Y, want_delta ? &delta_L : nullptr);
  if (correct && is_classification(loss_)) *correct = count_correct<T>(loss_, a_L, Y);
  return J;
}

// Row blocks of about kBlockBytes of the widest layer's outputs: a block's z, a and delta of each layer stay
// in L2 (1 MB on a Zen 4 / Zen 5 core) from the product that writes them to the passes and products that
// read them. Unsplit, a batch of 2048 rows of the bench net (784-256-128-10) spent 13% more time per sample
// than batches of 512 in perf on a Zen 5 core, in the products' tiles and the element-wise passes alike, as
// what they read had gone to L3. Blocks of at least 16 rows, a multiple of 16 (the products' 8-row panels,
// and bf16 pairs of rows). bench/RESULTS_BF16.md has the fits with and without blocks.
template <class T>
Index Network<T>::block_rows(Index m) const {
  constexpr Index kBlockBytes = 512 * 1024;
  if (!in_blocks_) return m;
  Index widest = 1;
  for (const auto& s : specs_) widest = std::max(widest, s.n_out);
  const Index rows = std::max<Index>(16, kBlockBytes / Index(sizeof(T)) / widest / 16 * 16);
  if (m <= rows + rows / 2) return m;  // a batch of up to 1.5 blocks is not split
  const Index blocks = (m + rows - 1) / rows;
  return ((m + blocks - 1) / blocks + 15) / 16 * 16;  // blocks of equal size, to a multiple of 16
}

template <class T>
T Network<T>::train_step(const ConstRef<T>& X, const Targets<T>& Y, const DropoutDraw& draw, T sgd_rate,
                         Index* correct) {
  const Index m = X.rows(), B = block_rows(m);
  if (B >= m) return gradients_unchecked(X, Y, draw, sgd_rate, correct);
  const T scale = mean_scale(Y), penalty = l2_penalty();  // the batch's, before any update
  T J = 0;
  Index right = 0;
  for (Index r0 = 0; r0 < m; r0 += B) {
    const Index rows = std::min(B, m - r0);
    const ConstRef<T> Xb = X.middleRows(r0, rows);
    Targets<T> Yb = Y.slice(r0, rows);
    Yb.batch_scale = scale;
    forward_pass(Xb, draw);
    Index c = 0;
    J += loss_of_rows(Yb, true, correct ? &c : nullptr);
    right += c;
    backprop(Xb, T(0), nullptr, r0 > 0);  // the first block writes the gradients (and the L2 term), the others add
  }
  if (sgd_rate > T(0))  // params <- params - rate grads (every parameter of these layers is trained)
    ops_->axpby(-sgd_rate, grads_.data(), T(1), params_.data(), num_params());
  if (correct) *correct = right;
  return J + penalty;
}

// Backprop: the layers' backward passes in reverse, from delta_L.
template <class T>
void Network<T>::backprop(const ConstRef<T>& X, T sgd_rate, Tracer<T>* tracer, bool accumulate) {
  Pass<T> p = pass(X.rows());
  p.sgd_rate = sgd_rate;
  p.tracer = tracer;
  p.accumulate = accumulate;
  stack_.backward(p, delta_.data(), nullptr);
}

template <class T>
T Network<T>::gradients_unchecked(const ConstRef<T>& X, const Targets<T>& Y, const DropoutDraw& pass, T sgd_rate,
                                  Index* correct) {
  forward_pass(X, pass);
  const T J = output_error(Y, true, correct);
  backprop(X, sgd_rate);
  return J;
}

template <class T>
T Network<T>::evaluate_unchecked(const ConstRef<T>& X, const Targets<T>& Y, Index* correct, NormMode norm) {
  forward_pass(X, {nullptr, 0, 0, norm});
  return output_error(Y, false, correct);
}

template <class T>
T Network<T>::objective(const ConstRef<T>& X, const Targets<T>& Y, NormMode norm) {
  validate(X, Y);
  return evaluate_unchecked(X, Y, nullptr, norm == NormMode::Train ? NormMode::Batch : norm);
}

template <class T>
T Network<T>::gradients(const ConstRef<T>& X, const Targets<T>& Y, NormMode norm) {
  validate(X, Y);
  return gradients_unchecked(X, Y, {nullptr, 0, 0, norm == NormMode::Train ? NormMode::Batch : norm});
}

namespace {
// Copies z, a (forward, in order) and delta (backward, in reverse) of every Dense layer.
template <class T>
struct Recorder final : Tracer<T> {
  std::vector<LayerTrace<T>> out;
  std::size_t next_delta = 0;
  void forward(const T* z, const T* a, Index m, Index k) override {
    out.push_back({ConstMatrixMap<T>(z, m, k), ConstMatrixMap<T>(a, m, k), {}});
    next_delta = out.size();
  }
  void delta(const T* d, Index m, Index k) override { out[--next_delta].delta = ConstMatrixMap<T>(d, m, k); }
};
}  // namespace

// z, a (and with targets delta) of every Dense layer: the forward pass with a trace, then backprop.
template <class T>
std::vector<LayerTrace<T>> Network<T>::trace(const ConstRef<T>& X, const Targets<T>* Y) {
  if (Y)
    validate(X, *Y);
  else
    validate_inputs(X);
  Recorder<T> r;
  forward_pass(X, {}, &r);
  if (Y) {
    output_error(*Y, true);
    backprop(X, T(0), &r);
  }
  return std::move(r.out);
}

template class Network<float>;
template class Network<double>;

}  // namespace fastmlp
