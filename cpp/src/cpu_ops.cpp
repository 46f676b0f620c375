// CpuOps<T>: the primitive operations of ops.hpp in host memory, over Eigen, the GEMM kernels
// (gemm.hpp) and the activations (activations.hpp). The layers (cpp/src/layers) call these.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "fastmlp/activations.hpp"
#include "fastmlp/gemm.hpp"
#include "fastmlp/gemm_bf16.hpp"
#include "fastmlp/ops.hpp"
#include "fastmlp/random.hpp"
#include "fastmlp/types.hpp"

namespace fastmlp {

namespace {

// s = sqrt(variance), 1 for a constant column (variance 0), into s (k values).
template <class T>
void scales(const T* variance, Index k, T* s) {
  const auto v = ConstRowVectorMap<T>(variance, k).array();
  RowVectorMap<T>(s, k).array() = (v > T(0)).select(v.sqrt(), T(1));
}

// The column blocks of up to kColumnBlock columns that a pass over an m x k matrix takes, so that a
// vector per column fits in a buffer on the stack: no allocation (the C API's predict allocates nothing).
constexpr Index kColumnBlock = 256;

// A table row's index from a code that Network::validate_inputs checked; a code it did not check
// (an unchecked entry point) is refused here rather than read out of bounds.
template <class T>
Index code(T v, Index V) {
  if (!(v >= T(0) && v < T(V)) || v != std::floor(v))
    throw std::invalid_argument("an Embedding code must be an integer in [0, " + std::to_string(V) + "), got " +
                                std::to_string(double(v)));
  return Index(v);
}

template <class T>
class CpuOps final : public Ops<T> {
 public:
  // mixed_bf16: the network's switch (Network<float>::set_mixed_bf16): while it is on, the products
  // round their operands to bfloat16 (gemm_bf16.hpp).
  explicit CpuOps(const bool* mixed_bf16) : mixed_bf16_(mixed_bf16) {}

  T* allocate(Index n) override {
    return static_cast<T*>(Eigen::internal::aligned_malloc(sizeof(T) * std::size_t(std::max<Index>(n, 1))));
  }
  void release(T* p) override { Eigen::internal::aligned_free(p); }
  void copy(const T* src, T* dst, Index n) override {
    if (src != dst) std::memcpy(dst, src, sizeof(T) * std::size_t(n));
  }

  void gemm(bool ta, bool tb, Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb, T beta,
            T* C, Index ldc) override {
    if constexpr (std::is_same_v<T, float>)
      if (mixed_bf16()) return gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    fastmlp::gemm<T>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }

  // The mixed bf16 kernel converts x once for both products (gemm_bf16.hpp, Bf16Input).
  struct Bf16Kept final : KeptInput {
    Bf16Input x;
  };
  void gemm_input(Index m, Index d, Index k, const T* x, Index ldx, const T* W, T* z, std::unique_ptr<KeptInput>* kept,
                  bool* finite) override {
    if constexpr (std::is_same_v<T, float>)
      if (mixed_bf16() && kept) {
        if (!dynamic_cast<Bf16Kept*>(kept->get())) *kept = std::make_unique<Bf16Kept>();
        return gemm_bf16_keep(m, k, d, 1.0f, x, ldx, W, k, 0.0f, z, k, static_cast<Bf16Kept&>(**kept).x, finite);
      }
    if (kept) kept->reset();  // nothing kept of this x
    if (finite) *finite = rows_finite(x, m, d, ldx);
    gemm(false, false, m, k, d, T(1), x, ldx, W, k, T(0), z, k);
  }
  void gemm_input_t(Index m, Index d, Index k, T alpha, const T* x, Index ldx, const T* dz, T beta, T* C,
                    const std::unique_ptr<KeptInput>* kept) override {
    if constexpr (std::is_same_v<T, float>)
      if (mixed_bf16() && kept)
        if (const auto* bf16 = dynamic_cast<const Bf16Kept*>(kept->get()))
          return gemm_bf16_kept(d, k, m, alpha, x, ldx, dz, k, beta, C, k, bf16->x);
    gemm(true, false, d, k, m, alpha, x, ldx, dz, k, beta, C, k);
  }

  void bias_activate(Activation g, T alpha, const T* b, T* Z, Index m, Index k) override {
    if (b)
      add_bias_activate<T>(g, alpha, ConstRowVectorMap<T>(b, k), MatrixMap<T>(Z, m, k));
    else
      activate<T>(g, alpha, MatrixMap<T>(Z, m, k));
  }
  void activation_backward(Activation g, T alpha, const T* A, const T* Z, T* D, Index m, Index k) override {
    if (g == Activation::Linear) return;
    if (needs_z(g))
      backward_from_z<T>(g, MatrixMap<T>(const_cast<T*>(Z), m, k), MatrixMap<T>(D, m, k));
    else
      backward<T>(g, alpha, MatrixMap<T>(const_cast<T*>(A), m, k), MatrixMap<T>(D, m, k));
  }
  void multiply(const T* x, const T* y, T* out, Index n) override {
    Eigen::Map<Vector<T>>(out, n).array() =
        Eigen::Map<const Vector<T>>(x, n).array() * Eigen::Map<const Vector<T>>(y, n).array();
  }
  // alpha 0: x is not read (y <- beta y).
  void axpby(T alpha, const T* x, T beta, T* y, Index n) override {
    auto Y = Eigen::Map<Vector<T>>(y, n);
    if (alpha == T(0))
      Y *= beta;
    else if (beta == T(1))
      Y += alpha * Eigen::Map<const Vector<T>>(x, n);
    else
      Y = alpha * Eigen::Map<const Vector<T>>(x, n) + beta * Y;
  }

  // Summed row by row along contiguous memory, in blocks of up to 256 columns: Eigen's
  // colwise().sum() on a row-major matrix walks down the columns (2048 x 256: 214 us against
  // 60 us, 1.2% of a batch-2048 step). One thread: with the columns split, each core read the rows
  // the other core's product had just written, and the pass took 4x the CPU time.
  void column_sums(const T* D, Index m, Index k, T alpha, T beta, T* out) override {
    constexpr Index C = kColumnBlock;
    alignas(64) T buf[C];
    const auto Dm = ConstMatrixMap<T>(D, m, k);
    for (Index j0 = 0; j0 < k; j0 += C) {
      Eigen::Map<RowVector<T>> s(buf, std::min(C, k - j0));
      s = Dm.row(0).segment(j0, s.size());
      for (Index r = 1; r < m; ++r) s += Dm.row(r).segment(j0, s.size());
      auto o = Eigen::Map<RowVector<T>>(out + j0, s.size());
      if (beta == T(0) && alpha == T(1))
        o = s;
      else if (beta == T(0))
        o = alpha * s;
      else if (beta == T(1))
        o += alpha * s;
      else
        o = beta * o + alpha * s;
    }
  }

  bool sgd_rank1(Index d, Index k, T decay, T rate, const T* x, const T* dz, T* W, T* dx) override {
    if (mixed_bf16()) return false;  // no bf16 rank-1 kernel: the layer runs the two (mixed) products
    fastmlp::sgd_rank1<T>(d, k, decay, rate, x, dz, W, k, dx);
    return true;
  }

  void normalize(Norm kind, NormMode mode, const T* a_ptr, Index m, Index k, T eps, T momentum, const T* gamma,
                 const T* beta, T* running_mean, T* running_var, T* x_hat_ptr, T* inv_std, T* y) override {
    const auto a = ConstMatrixMap<T>(a_ptr, m, k);
    auto x_hat = MatrixMap<T>(x_hat_ptr, m, k);
    if (kind == Norm::Layer) {  // each row over its units
      for (Index i = 0; i < m; ++i) {
        const T mu = a.row(i).mean();
        x_hat.row(i).array() = a.row(i).array() - mu;
        inv_std[i] = T(1) / std::sqrt(x_hat.row(i).squaredNorm() / T(k) + eps);
        x_hat.row(i) *= inv_std[i];
      }
    } else {  // each unit over the batch's rows, or the running statistics
      auto rm = RowVectorMap<T>(running_mean, k), rv = RowVectorMap<T>(running_var, k);
      auto inv = RowVectorMap<T>(inv_std, k);
      if (mode == NormMode::Inference) {  // the running statistics as they are (no copy: nothing allocated)
        inv = (rv.array() + eps).rsqrt();
        x_hat.array() = (a.rowwise() - rm).array().rowwise() * inv.array();
      } else {
        const RowVector<T> mu = a.colwise().mean();
        const RowVector<T> var = (a.rowwise() - mu).array().square().colwise().sum() / T(m);
        if (mode == NormMode::Train) {
          rm = momentum * rm + (T(1) - momentum) * mu;
          rv = momentum * rv + (T(1) - momentum) * var;
        }
        inv = (var.array() + eps).rsqrt();
        x_hat.array() = (a.rowwise() - mu).array().rowwise() * inv.array();
      }
    }
    MatrixMap<T>(y, m, k).array() = (x_hat.array().rowwise() * ConstRowVectorMap<T>(gamma, k).array()).rowwise() +
                                    ConstRowVectorMap<T>(beta, k).array();
  }

  void normalize_backward(Norm kind, NormMode mode, T* D_ptr, const T* x_hat_ptr, Index m, Index k, const T* gamma,
                          const T* inv_std, T* dgamma, T* dbeta) override {
    auto D = MatrixMap<T>(D_ptr, m, k);
    const auto x_hat = ConstMatrixMap<T>(x_hat_ptr, m, k);
    // D holds g = dJ/dy; the parameters' gradients first (they need g, not dJ/da)
    RowVectorMap<T>(dgamma, k) = (D.array() * x_hat.array()).colwise().sum();
    RowVectorMap<T>(dbeta, k) = D.colwise().sum();
    D.array().rowwise() *= ConstRowVectorMap<T>(gamma, k).array();  // dJ/dx_hat
    if (kind == Norm::Layer) {
      for (Index i = 0; i < m; ++i) {
        const T mean_g = D.row(i).mean(), mean_gx = D.row(i).dot(x_hat.row(i)) / T(k);
        D.row(i) = (D.row(i).array() - mean_g - x_hat.row(i).array() * mean_gx) * inv_std[i];
      }
    } else if (mode == NormMode::Inference) {  // an affine map with constant statistics
      D.array().rowwise() *= ConstRowVectorMap<T>(inv_std, k).array();
    } else {  // the batch's statistics depend on every row
      const RowVector<T> mean_g = D.colwise().mean();
      const RowVector<T> mean_gx = (D.array() * x_hat.array()).colwise().sum() / T(m);
      D.array() = ((D.rowwise() - mean_g).array() - x_hat.array().rowwise() * mean_gx.array()).rowwise() *
                  ConstRowVectorMap<T>(inv_std, k).array();
    }
  }

  void standardize(const T* x, Index m, Index k, const T* mean, const T* variance, bool invert, T* y) override {
    alignas(64) T buf[kColumnBlock];
    for (Index j0 = 0; j0 < k; j0 += kColumnBlock) {
      const Index n = std::min(kColumnBlock, k - j0);
      scales(variance + j0, n, buf);
      const auto s = ConstRowVectorMap<T>(buf, n);
      const auto mu = ConstRowVectorMap<T>(mean + j0, n);
      const auto X = ConstMatrixMap<T>(x, m, k).middleCols(j0, n);
      auto Y = MatrixMap<T>(y, m, k).middleCols(j0, n);
      if (invert)
        Y.array() = (X.array().rowwise() * s.array()).rowwise() + mu.array();
      else
        Y.array() = (X.rowwise() - mu).array().rowwise() / s.array();
    }
  }
  void standardize_backward(const T* dy, Index m, Index k, const T*, const T* variance, bool invert, T* dx) override {
    alignas(64) T buf[kColumnBlock];
    for (Index j0 = 0; j0 < k; j0 += kColumnBlock) {
      const Index n = std::min(kColumnBlock, k - j0);
      scales(variance + j0, n, buf);
      const auto s = ConstRowVectorMap<T>(buf, n);
      const auto D = ConstMatrixMap<T>(dy, m, k).middleCols(j0, n);
      auto out = MatrixMap<T>(dx, m, k).middleCols(j0, n);
      if (invert)
        out.array() = D.array().rowwise() * s.array();
      else
        out.array() = D.array().rowwise() / s.array();
    }
  }

  void gather_rows(const T* codes, Index m, Index k, Index ldc, const T* E, Index V, Index d, T* y,
                   Index ldy) override {
    for (Index i = 0; i < m; ++i)
      for (Index j = 0; j < k; ++j)
        std::memcpy(y + i * ldy + j * d, E + code(codes[i * ldc + j], V) * d, sizeof(T) * std::size_t(d));
  }
  // Row by row in the batch's order: the same sums every run.
  void scatter_add_rows(const T* codes, Index m, Index k, Index ldc, const T* dy, Index lddy, Index V, Index d, T alpha,
                        T beta, T* out) override {
    auto O = MatrixMap<T>(out, V, d);
    if (beta == T(0))
      O.setZero();
    else if (beta != T(1))
      O *= beta;
    for (Index i = 0; i < m; ++i)
      for (Index j = 0; j < k; ++j)
        O.row(code(codes[i * ldc + j], V)) += alpha * ConstRowVectorMap<T>(dy + i * lddy + j * d, d);
  }

  void dropout_mask(Rng& rng, double p, Index rows_before, Index m, Index rows_after, Index k, T* mask) override {
    const T keep_scale = T(1.0 / (1.0 - p));
    rng.skip(std::uint64_t(rows_before * k));
    for (Index i = 0; i < m * k; ++i) mask[i] = rng.uniform() >= p ? keep_scale : T(0);
    rng.skip(std::uint64_t(rows_after * k));
  }

 private:
  bool mixed_bf16() const { return mixed_bf16_ && *mixed_bf16_; }
  const bool* mixed_bf16_;
};

}  // namespace

template <class T>
std::unique_ptr<Ops<T>> make_cpu_ops(const bool* mixed_bf16) {
  return std::make_unique<CpuOps<T>>(mixed_bf16);
}
template std::unique_ptr<Ops<float>> make_cpu_ops<float>(const bool*);
template std::unique_ptr<Ops<double>> make_cpu_ops<double>(const bool*);

}  // namespace fastmlp
