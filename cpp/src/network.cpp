#include "fastmlp/network.hpp"
#include "fastmlp/names.hpp"

#include "fastmlp/gemm.hpp"
#include "fastmlp/threads.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_set>

namespace fastmlp {

namespace {
// Z (m x k) = A (m x d, row stride lda) * W (d x k)
template <class T>
void product(const T* A, Index lda, Index m, Index d, const T* W, Index k, T* Z) {
  gemm<T>(false, false, m, k, d, T(1), A, lda, W, k, T(0), Z, k);
}
std::string shape(Index r, Index c) { return "(" + std::to_string(r) + ", " + std::to_string(c) + ")"; }
bool relu_like(Activation g) { return g == Activation::Relu || g == Activation::LeakyRelu || g == Activation::Elu; }

// The bias gradient 1^T delta (column sums of a row-major m x k matrix), handed to use(j0, s) in chunks of
// up to 256 columns. Summed row by row along contiguous memory: Eigen's colwise().sum() on a row-major
// matrix walks down the columns (2048 x 256: 214 us against 60 us, 1.2% of a batch-2048 step). One
// thread: with the columns split, each core read the rows the other core's product had just written,
// and the pass took 4x the CPU time (2 threads, batch 2048).
template <class T, class Use>
void column_sums(const MatrixMap<T>& D, Use use) {
  constexpr Index C = 256;
  alignas(64) T buf[C];
  for (Index j0 = 0; j0 < D.cols(); j0 += C) {
    Eigen::Map<RowVector<T>> s(buf, std::min(C, D.cols() - j0));
    s = D.row(0).segment(j0, s.size());
    for (Index r = 1; r < D.rows(); ++r) s += D.row(r).segment(j0, s.size());
    use(j0, s);
  }
}

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

template <class T>
Network<T>::Network(std::vector<LayerSpec> layers, Loss loss, T l2) : layers_(std::move(layers)), loss_(loss), l2_(0) {
  if (layers_.empty()) throw std::invalid_argument("layers: a network needs at least one layer");
  Index n = 0, n_state = 0;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const auto& s = layers_[l];
    const std::string where = "layers[" + std::to_string(l) + "]";
    try {
      validate_layer(s);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(where + ": " + e.what());
    }
    constexpr Index kMaxParams = Index(1) << 40;  // no overflow below
    if (n + s.n_in * s.n_out + s.n_out > kMaxParams)
      throw std::invalid_argument(where + ": " + shape(s.n_in, s.n_out) +
                                  " is too large (at most 2^40 parameters "
                                  "in all)");
    if (l > 0 && s.n_in != layers_[l - 1].n_out)
      throw std::invalid_argument(where + " takes " + std::to_string(s.n_in) + " inputs but layers[" +
                                  std::to_string(l - 1) + "] gives " + std::to_string(layers_[l - 1].n_out) +
                                  " outputs");
    if (l + 1 == layers_.size() && s.dropout > 0.0)
      throw std::invalid_argument(where + ": the output layer cannot have dropout");
    if (l + 1 == layers_.size() && s.norm != Norm::None)
      throw std::invalid_argument(where + ": the output layer cannot be normalized");
    if (s.norm != Norm::None && !(T(s.norm_epsilon) > T(0)))  // e.g. 1e-50 is 0 in float32
      throw std::invalid_argument(where + ": epsilon " + std::to_string(s.norm_epsilon) +
                                  " is 0 in the model's dtype; use a larger one");
    offsets_.push_back(n);
    n += s.n_in * s.n_out + s.n_out + (s.norm != Norm::None ? 2 * s.n_out : 0);
    state_offsets_.push_back(n_state);
    if (s.norm == Norm::Batch) n_state += 2 * s.n_out;
  }
  state_ = Vector<T>::Zero(n_state);
  check_loss_output(loss_, layers_.back().activation);
  set_l2(l2);
  params_ = Vector<T>::Zero(n);
  grads_ = Vector<T>::Zero(n);
  const std::size_t L = layers_.size();
  A_.resize(L);
  D_.resize(L);
  Adrop_.resize(L);
  mask_.resize(L);
  Zkeep_.resize(L);
  Ynorm_.resize(L);
  Xhat_.resize(L);
  inv_std_.resize(L);
  norm_mode_.assign(L, NormMode::Inference);
  dropped_.assign(L, 0);
  for (Index l = 0; l < num_layers(); ++l) {  // before init_params: a usable network either way
    if (!has_norm(l)) continue;
    gamma(l).setOnes();
    if (layers_[l].norm == Norm::Batch) running_var(l).setOnes();
  }
}

template <class T>
bool Network<T>::has_batch_norm() const {
  for (const auto& s : layers_)
    if (s.norm == Norm::Batch) return true;
  return false;
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
  for (Index l = 0; l < num_layers(); ++l) {
    const auto& s = layers_[l];
    Init init = s.init;
    if (init == Init::Default) init = relu_like(s.activation) ? Init::HeUniform : Init::GlorotUniform;
    const bool he = init == Init::HeUniform || init == Init::HeNormal;
    // Var(w) = 2 / (n_in + n_out) (Glorot) or 2 / n_in (He); uniform +-limit has variance limit^2 / 3.
    const double var = he ? 2.0 / double(s.n_in) : 2.0 / double(s.n_in + s.n_out);
    const bool uniform = init == Init::GlorotUniform || init == Init::HeUniform;
    const double limit = std::sqrt(3.0 * var), stddev = std::sqrt(var);
    auto w = W(l);
    for (Index i = 0; i < w.size(); ++i)
      w.data()[i] = T(uniform ? (2.0 * rng.uniform() - 1.0) * limit : rng.normal() * stddev);
    b(l).setZero();
    if (!has_norm(l)) continue;
    gamma(l).setOnes();
    beta(l).setZero();
    if (layers_[l].norm != Norm::Batch) continue;
    running_mean(l).setZero();
    running_var(l).setOnes();
  }
}

template <class T>
void Network<T>::validate_inputs(const ConstRef<T>& X) const {
  if (X.rows() == 0 || X.cols() == 0) throw std::invalid_argument("X is empty: shape " + shape(X.rows(), X.cols()));
  if (X.cols() != n_inputs())
    throw std::invalid_argument("X has " + std::to_string(X.cols()) + " features but the model expects " +
                                std::to_string(n_inputs()) + ": X shape " + shape(X.rows(), X.cols()));
  std::atomic<bool> finite{true};
  parallel_elementwise(X.rows(), X.size(), 1, [&](Index i0, Index i1) {
    if (!all_finite(X.middleRows(i0, i1 - i0))) finite = false;
  });
  if (!finite) throw std::invalid_argument("X contains NaN or infinity");
}

template <class T>
void Network<T>::validate(const ConstRef<T>& X, const Targets<T>& Y) const {
  validate_inputs(X);
  validate_targets(loss_, Y, X.rows(), n_outputs());
}

template <class T>
void Network<T>::reserve(Index m) {
  if (m <= capacity_) return;
  for (Index l = 0; l < num_layers(); ++l) {
    A_[l].resize(m, layers_[l].n_out);
    D_[l].resize(m, layers_[l].n_out);
    if (layers_[l].dropout > 0.0) {
      Adrop_[l].resize(m, layers_[l].n_out);
      mask_[l].resize(m, layers_[l].n_out);
    }
    if (needs_z(layers_[l].activation)) Zkeep_[l].resize(m, layers_[l].n_out);
    if (has_norm(l)) {
      Ynorm_[l].resize(m, layers_[l].n_out);
      Xhat_[l].resize(m, layers_[l].n_out);
      inv_std_[l].resize(layers_[l].norm == Norm::Layer ? m : layers_[l].n_out);
    }
  }
  capacity_ = m;
}

// Forward pass: z_l = a_{l-1} W_l + b_l, a_l = g_l(z_l); the output layer stays z_L.
template <class T>
void Network<T>::forward_pass(const ConstRef<T>& X, const DropoutDraw& dropout, std::vector<LayerTrace<T>>* trace) {
  const Index m = X.rows();
  reserve(m);
  rows_ = m;
  const Index L = num_layers();
  if (trace) trace->resize(std::size_t(L));
  for (Index l = 0; l < L; ++l) {
    auto z = act(l, m);  // z_l, activated in place into a_l
    const Index d = layers_[l].n_in, k = layers_[l].n_out;
    if (l == 0)
      product<T>(X.data(), X.outerStride(), m, d, W(0).data(), k, z.data());
    else
      product<T>(input_of_next(l - 1, m, dropped_[l - 1]).data(), d, m, d, W(l).data(), k, z.data());
    // The output layer stays z_L (bias added): the loss activates it.
    const Activation g = l + 1 < L ? layers_[l].activation : Activation::Linear;
    const auto b_l = ConstRowVectorMap<T>(b(l).data(), k);
    if (trace) {  // z_l and a_l separately (the fused kernel below never holds both)
      auto& t = (*trace)[std::size_t(l)];
      add_bias_activate<T>(Activation::Linear, T(0), b_l, z);
      t.z = z;
      if (l + 1 < L && needs_z(g)) zkeep(l, m) = z;
      activate<T>(layers_[l].activation, alpha(l), z);
      t.a = z;
      if (l + 1 == L) z = t.z;  // the output layer keeps z_L, as without a trace
    } else if (needs_z(g)) {    // keep Z for the backward pass
      add_bias_activate<T>(Activation::Linear, T(0), b_l, z);
      zkeep(l, m) = z;
      activate<T>(g, alpha(l), z);
    } else {
      add_bias_activate<T>(g, alpha(l), b_l, z);
    }
    if (l + 1 < L && has_norm(l)) normalize(l, m, dropout.norm);  // y_l = gamma x_hat + beta
    dropped_[l] = dropout.rng && layers_[l].dropout > 0.0;
    if (dropped_[l]) {
      const double p = layers_[l].dropout;
      const T keep_scale = T(1.0 / (1.0 - p));
      auto M = MatrixMap<T>(mask_[l].data(), m, k);
      dropout.rng->skip(std::uint64_t(dropout.rows_before * k));
      for (Index i = 0; i < M.size(); ++i) M.data()[i] = dropout.rng->uniform() >= p ? keep_scale : T(0);
      dropout.rng->skip(std::uint64_t(dropout.rows_after * k));
      const auto a = has_norm(l) ? MatrixMap<T>(Ynorm_[l].data(), m, k) : z;
      MatrixMap<T>(Adrop_[l].data(), m, k).array() = a.array() * M.array();
    }
  }
}

template <class T>
void Network<T>::normalize(Index l, Index m, NormMode mode) {
  const auto& s = layers_[l];
  const Index k = s.n_out;
  const T eps = T(s.norm_epsilon);
  const auto a = act(l, m);
  auto x_hat = MatrixMap<T>(Xhat_[l].data(), m, k);
  norm_mode_[l] = mode;
  if (s.norm == Norm::Layer) {  // each row over its units
    auto inv = inv_std_[l].head(m);
    for (Index i = 0; i < m; ++i) {
      const T mu = a.row(i).mean();
      x_hat.row(i).array() = a.row(i).array() - mu;
      inv[i] = T(1) / std::sqrt(x_hat.row(i).squaredNorm() / T(k) + eps);
      x_hat.row(i) *= inv[i];
    }
  } else {  // each unit over the batch's rows, or the running statistics
    RowVector<T> mu, var;
    if (mode == NormMode::Inference) {
      mu = running_mean(l), var = running_var(l);
    } else {
      mu = a.colwise().mean();
      var = (a.rowwise() - mu).array().square().colwise().sum() / T(m);
      if (mode == NormMode::Train) {
        const T momentum = T(s.norm_momentum);
        running_mean(l) = momentum * running_mean(l) + (T(1) - momentum) * mu;
        running_var(l) = momentum * running_var(l) + (T(1) - momentum) * var;
      }
    }
    inv_std_[l] = (var.array() + eps).rsqrt().transpose();
    x_hat.array() = (a.rowwise() - mu).array().rowwise() * inv_std_[l].transpose().array();
  }
  MatrixMap<T>(Ynorm_[l].data(), m, k).array() =
      (x_hat.array().rowwise() * gamma(l).array()).rowwise() + beta(l).array();
}

template <class T>
void Network<T>::normalize_backward(Index l, Index m, MatrixMap<T> D, T sgd_rate) {
  const Index k = layers_[l].n_out;
  const auto x_hat = MatrixMap<T>(Xhat_[l].data(), m, k);
  // D holds g = dJ/dy; the parameters' gradients first (they need g, not dJ/da)
  const RowVector<T> d_gamma = (D.array() * x_hat.array()).colwise().sum(), d_beta = D.colwise().sum();
  const RowVector<T> gamma_l = gamma(l);  // before a fused update changes it
  if (sgd_rate > T(0)) {
    gamma(l) -= sgd_rate * d_gamma;
    beta(l) -= sgd_rate * d_beta;
  } else {
    RowVectorMap<T>(grads_.data() + norm_offset(l), k) = d_gamma;
    RowVectorMap<T>(grads_.data() + norm_offset(l) + k, k) = d_beta;
  }
  D.array().rowwise() *= gamma_l.array();  // dJ/dx_hat
  if (layers_[l].norm == Norm::Layer) {
    const auto inv = inv_std_[l].head(m);
    for (Index i = 0; i < m; ++i) {
      const T mean_g = D.row(i).mean(), mean_gx = D.row(i).dot(x_hat.row(i)) / T(k);
      D.row(i) = (D.row(i).array() - mean_g - x_hat.row(i).array() * mean_gx) * inv[i];
    }
  } else if (norm_mode_[l] == NormMode::Inference) {  // an affine map with constant statistics
    D.array().rowwise() *= inv_std_[l].transpose().array();
  } else {  // the batch's statistics depend on every row
    const RowVector<T> mean_g = D.colwise().mean();
    const RowVector<T> mean_gx = (D.array() * x_hat.array()).colwise().sum() / T(m);
    D.array() = ((D.rowwise() - mean_g).array() - x_hat.array().rowwise() * mean_gx.array()).rowwise() *
                inv_std_[l].transpose().array();
  }
}

template <class T>
MatrixMap<T> Network<T>::forward_unchecked(const ConstRef<T>& X) {
  const ReadOnlyProducts read_only;  // inference: even one sample's products may use every core
  forward_pass(X);
  auto A = act(num_layers() - 1, X.rows());
  activate<T>(layers_.back().activation, alpha(num_layers() - 1), A);
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
  for (Index l = 0; l < num_layers(); ++l)
    s += ConstMatrixMap<T>(params_.data() + offsets_[l], layers_[l].n_in, layers_[l].n_out).squaredNorm();
  return T(0.5) * l2_ * s;
}

// Output error: J = loss(a_L, y) + (l2 / 2) sum ||W||^2, and delta_L = dJ/dz_L (losses.hpp).
template <class T>
T Network<T>::output_error(const Targets<T>& Y, bool want_delta, Index* correct) {
  const Index m = rows_, L = num_layers();
  auto a_L = act(L - 1, m);  // holds z_L; output_loss activates it
  auto delta_L = delta(L - 1, m);
  const T J = output_loss<T>(loss_, layers_[L - 1].activation, alpha(L - 1), a_L, Y, want_delta ? &delta_L : nullptr) +
              l2_penalty();
  if (correct && is_classification(loss_)) *correct = count_correct<T>(loss_, a_L, Y);
  return J;
}

// The fused SGD update of layer l: W <- (1 - rate l2) W - rate a_prev^T delta,
// b <- b - rate sum_rows delta; no gradient buffer is written.
template <class T>
void Network<T>::sgd_update(Index l, const T* a_prev, Index lda, Index m, T rate) {
  const Index d = layers_[l].n_in, k = layers_[l].n_out;
  const auto D = delta(l, m);
  if (l2_ != T(0)) W(l) *= T(1) - rate * l2_;
  gemm<T>(true, false, d, k, m, -rate, a_prev, lda, D.data(), k, T(1), W(l).data(), k);
  column_sums(D, [&](Index j0, const auto& s) { b(l).segment(j0, s.size()) -= rate * s; });
}

// dW_l = a_prev^T delta_l + l2 W_l,  db_l = sum_rows delta_l.
template <class T>
void Network<T>::weight_gradients(Index l, const T* a_prev, Index lda, Index m) {
  const Index d = layers_[l].n_in, k = layers_[l].n_out;
  const auto D = delta(l, m);
  gemm<T>(true, false, d, k, m, T(1), a_prev, lda, D.data(), k, T(0), dW(l).data(), k);
  if (l2_ != T(0)) dW(l) += l2_ * W(l);
  column_sums(D, [&](Index j0, const auto& s) { db(l).segment(j0, s.size()) = s; });
}

// Backprop: delta_{l-1} = (delta_l W_l^T) * g'(z_{l-1}), then layer l's gradients or update.
// One sample with SGD: delta_{l-1} (from the old W_l) and the rank-1 update in one pass over W_l.
template <class T>
void Network<T>::backprop(const ConstRef<T>& X, T sgd_rate) {
  const Index m = X.rows(), L = num_layers();
  const bool one_pass = sgd_rate > T(0) && m == 1;
  for (Index l = L - 1; l >= 0; --l) {
    const Index d = layers_[l].n_in, k = layers_[l].n_out;
    const T* a_prev = l == 0 ? X.data() : input_of_next(l - 1, m, dropped_[l - 1]).data();
    const Index lda = l == 0 ? X.outerStride() : d;
    if (one_pass) {
      sgd_rank1<T>(d, k, T(1) - sgd_rate * l2_, -sgd_rate, a_prev, delta(l, m).data(), W(l).data(), k,
                   l > 0 ? delta(l - 1, m).data() : nullptr);
      b(l).noalias() -= sgd_rate * delta(l, m).row(0);
    }
    // delta_{l-1} before the update: it needs W_l before the update changes it.
    if (l > 0) {
      auto D_prev = delta(l - 1, m);
      if (!one_pass) gemm<T>(false, true, m, d, k, T(1), delta(l, m).data(), k, W(l).data(), k, T(0), D_prev.data(), d);
      if (dropped_[l - 1]) D_prev.array() *= MatrixMap<T>(mask_[l - 1].data(), m, d).array();
      if (has_norm(l - 1)) normalize_backward(l - 1, m, D_prev, sgd_rate);  // dJ/dy -> dJ/da
      if (needs_z(layers_[l - 1].activation))
        backward_from_z<T>(layers_[l - 1].activation, zkeep(l - 1, m), D_prev);  // * g'(z_{l-1}), from z_{l-1}
      else
        backward<T>(layers_[l - 1].activation, alpha(l - 1), act(l - 1, m), D_prev);  // * g'(z_{l-1}), from a_{l-1}
    }
    if (one_pass) continue;
    if (sgd_rate > T(0))
      sgd_update(l, a_prev, lda, m, sgd_rate);
    else
      weight_gradients(l, a_prev, lda, m);
  }
}

template <class T>
T Network<T>::gradients_unchecked(const ConstRef<T>& X, const Targets<T>& Y, const DropoutDraw& pass, T sgd_rate) {
  forward_pass(X, pass);
  const T J = output_error(Y, true);
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

// z, a (and with targets delta) of every layer: the forward pass with a trace, then backprop.
template <class T>
std::vector<LayerTrace<T>> Network<T>::trace(const ConstRef<T>& X, const Targets<T>* Y) {
  if (Y)
    validate(X, *Y);
  else
    validate_inputs(X);
  std::vector<LayerTrace<T>> out;
  forward_pass(X, {}, &out);
  if (Y) {
    output_error(*Y, true);
    backprop(X);
    for (Index l = 0; l < num_layers(); ++l) out[std::size_t(l)].delta = delta(l, X.rows());
  }
  return out;
}

template class Network<float>;
template class Network<double>;

}  // namespace fastmlp
