// Ops<T>: the primitive operations an engine supplies to the layers (layer.hpp).
//
// A layer's forward and backward are written once, as calls to these; the CPU engine
// implements them over Eigen and the GEMM kernels (cpu_ops.cpp), the CUDA engine over its
// kernels and cuBLAS (cpp/cuda/backend.cu), in the memory the engine owns. So every engine
// runs the same layer code and the same layer loop; an engine differs only in memory and in
// the bodies of these operations (dlib's tt:: ops, mlx's eval_cpu / eval_gpu).
//
// Plain C++ (no Eigen, no CUDA headers): nvcc compiles the CUDA engine against it. Matrices
// are row-major, samples are rows, pointers are into the engine's memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "fastmlp/elementwise.hpp"  // enum Activation and the element-wise formulas

namespace fastmlp {

using Index = std::ptrdiff_t;  // = Eigen::Index (types.hpp)

// True for the activations whose backward pass reads Z (gelu, silu, mish), not A.
inline bool needs_z(Activation g) { return g == Activation::Gelu || g == Activation::Silu || g == Activation::Mish; }

// A normalization's kind, and how a forward pass treats batch normalization: the running
// statistics (inference), the batch's statistics, or the batch's statistics with the running
// ones updated (a training step).
enum class Norm { None, Batch, Layer };
enum class NormMode { Inference, Batch, Train };

class Rng;

// What an engine keeps of a layer's input x from the forward product z = x W to the weight gradient
// x^T dz of the same training step (Ops::gemm_input): the mixed bf16 path's converted x. Opaque to the
// layers, which own it.
class KeptInput {
 public:
  virtual ~KeptInput() = default;
};

// Throws NotSupported (trainer.hpp): this engine has no `op` (layers/stack.cpp).
[[noreturn]] void ops_unsupported(const char* op);

template <class T>
class Ops {
 public:
  virtual ~Ops() = default;

  // --- memory: n values of the engine's memory; copies within it, and from the host into it
  virtual T* allocate(Index n) = 0;
  virtual void release(T* p) = 0;
  virtual void copy(const T* src, T* dst, Index n) = 0;
  // m rows of n values from src (row stride lds) to dst (row stride ldd): by default one copy
  // per row; the CUDA engine does it in one call (cudaMemcpy2DAsync).
  virtual void copy_rows(const T* src, Index lds, T* dst, Index ldd, Index m, Index n) {
    for (Index i = 0; i < m; ++i) copy(src + i * lds, dst + i * ldd, n);
  }

  // --- products: row-major C (M x N) = alpha op(A) op(B) + beta C
  virtual void gemm(bool ta, bool tb, Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb,
                    T beta, T* C, Index ldc) = 0;

  // --- the two products of a training step that read a layer's input x (m x d, row stride ldx):
  // z (m x k) = x W (W: d x k) in the forward pass, and C (d x k) = alpha x^T dz + beta C in the
  // backward pass. An engine may convert x once for both (the CPU's mixed bf16 kernel), keeping its
  // copy in *kept (made here when null): the forward one keeps it where `kept` is not null, the
  // backward one uses it where `kept` holds this x (else converts anew). The caller leaves x
  // unchanged in between and passes the same x, ldx and m. By default: the two products.
  // finite (not null): set to whether x holds no NaN and no infinity (the training loop's check of the
  // model's input in a fit's first epoch, where the conversion notes it for free: Network::checks_in_training).
  // Only the CPU engine does it.
  virtual void gemm_input(Index m, Index d, Index k, const T* x, Index ldx, const T* W, T* z,
                          std::unique_ptr<KeptInput>* kept, bool* finite = nullptr) {
    (void)kept;
    if (finite) unsupported("gemm_input's check of x");
    gemm(false, false, m, k, d, T(1), x, ldx, W, k, T(0), z, k);
  }
  virtual void gemm_input_t(Index m, Index d, Index k, T alpha, const T* x, Index ldx, const T* dz, T beta, T* C,
                            const std::unique_ptr<KeptInput>* kept) {
    (void)kept;
    gemm(true, false, d, k, m, alpha, x, ldx, dz, k, beta, C, k);
  }

  // --- element-wise (activations.hpp's formulas)
  // Z (m x k, row stride ldz = k) <- g(Z + 1 b) in place; b null: no bias.
  virtual void bias_activate(Activation g, T alpha, const T* b, T* Z, Index m, Index k) = 0;
  // D (m x k) <- D * g'(z), from A = g(Z), or from Z when needs_z(g).
  virtual void activation_backward(Activation g, T alpha, const T* A, const T* Z, T* D, Index m, Index k) = 0;
  // out <- x * y (may alias x or y).
  virtual void multiply(const T* x, const T* y, T* out, Index n) = 0;
  // y <- alpha x + beta y.
  virtual void axpby(T alpha, const T* x, T beta, T* y, Index n) = 0;
  // out (k) <- alpha 1^T D + beta out: the bias gradient (column sums of D, m x k).
  virtual void column_sums(const T* D, Index m, Index k, T alpha, T beta, T* out) = 0;

  // --- the fused fast path of one sample with plain SGD (m = 1): dx <- dz W^T (dx may be null)
  // with the old W, and W <- decay W + rate x^T dz, in one pass over W (d x k). False when the
  // engine has no such kernel (the layer then runs the two products).
  virtual bool sgd_rank1(Index d, Index k, T decay, T rate, const T* x, const T* dz, T* W, T* dx) {
    (void)d, (void)k, (void)decay, (void)rate, (void)x, (void)dz, (void)W, (void)dx;
    return false;
  }

  // --- normalization (network.hpp's formulas) of a (m x k): y = gamma x_hat + beta, keeping
  // x_hat and inv_std = 1 / sqrt(var + eps) (k values for Batch, m for Layer). Batch in Train
  // mode updates the running statistics with `momentum`.
  virtual void normalize(Norm kind, NormMode mode, const T* a, Index m, Index k, T eps, T momentum, const T* gamma,
                         const T* beta, T* running_mean, T* running_var, T* x_hat, T* inv_std, T* y) = 0;
  // D = dJ/dy on entry, dJ/da on exit (in place); dgamma, dbeta (k each) written.
  virtual void normalize_backward(Norm kind, NormMode mode, T* D, const T* x_hat, Index m, Index k, const T* gamma,
                                  const T* inv_std, T* dgamma, T* dbeta) = 0;

  // --- standardization of the columns (a Normalization layer): y = (x - mean) / s, or with
  // invert y = x s + mean, where s = sqrt(variance), or 1 where the variance is 0 (a constant
  // column: scikit-learn's StandardScaler keeps it unscaled). backward: dx = dy / s (invert:
  // dy s); dx may be dy. An engine without them throws NotSupported.
  virtual void standardize(const T* x, Index m, Index k, const T* mean, const T* variance, bool invert, T* y) {
    (void)x, (void)m, (void)k, (void)mean, (void)variance, (void)invert, (void)y;
    unsupported("standardize");
  }
  virtual void standardize_backward(const T* dy, Index m, Index k, const T* mean, const T* variance, bool invert,
                                    T* dx) {
    (void)dy, (void)m, (void)k, (void)mean, (void)variance, (void)invert, (void)dx;
    unsupported("standardize_backward");
  }

  // --- rows of a table at integer codes (an Embedding layer, a ColumnEmbedding's tables).
  // codes: m x k (row stride ldc), each an integer in [0, V) (Network::validate_inputs checks
  // them; the CPU also refuses others, CUDA gives a NaN row and adds nothing, never reading or
  // writing out of bounds).
  // gather_rows: y (m x k d, row stride ldy >= k d) <- the rows of E (V x d) side by side,
  // y[i, j d + c] = E[codes[i, j], c] (the rest of each y row is not written).
  // scatter_add_rows: out (V x d) <- beta out + alpha sum over (i, j) with codes[i, j] = v of
  // dy[i, j d .. j d + d) (dy's row stride lddy >= k d) for each row v (beta 0: out is
  // overwritten, not read). The CPU adds in order (deterministic); the CUDA engine uses atomic
  // adds, so float sums of a repeated code vary in their last bits from run to run.
  virtual void gather_rows(const T* codes, Index m, Index k, Index ldc, const T* E, Index V, Index d, T* y, Index ldy) {
    (void)codes, (void)m, (void)k, (void)ldc, (void)E, (void)V, (void)d, (void)y, (void)ldy;
    unsupported("gather_rows");
  }
  virtual void scatter_add_rows(const T* codes, Index m, Index k, Index ldc, const T* dy, Index lddy, Index V, Index d,
                                T alpha, T beta, T* out) {
    (void)codes, (void)m, (void)k, (void)ldc, (void)dy, (void)lddy, (void)V, (void)d, (void)alpha, (void)beta,
        (void)out;
    unsupported("scatter_add_rows");
  }

  // --- dropout: the mask (m x k) of 0 and 1 / (1 - p), drawn from rng as for a batch of
  // rows_before + m + rows_after rows of which this batch holds the middle m. Every engine
  // draws the same numbers in the same order (the CPU's), so masks agree exactly.
  virtual void dropout_mask(Rng& rng, double p, Index rows_before, Index m, Index rows_after, Index k, T* mask) = 0;

 protected:
  [[noreturn]] static void unsupported(const char* op) { ops_unsupported(op); }
};

// An array of the engine's memory that only grows (its contents are lost when it does).
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { clear(); }
  T* data() const { return p_; }
  void reserve(Ops<T>& ops, Index n) {
    if (n <= n_) return;
    clear();
    p_ = ops.allocate(n);
    ops_ = &ops;
    n_ = n;
  }
  void clear() {
    if (p_) ops_->release(p_);
    p_ = nullptr;
    n_ = 0;
  }

 private:
  Ops<T>* ops_ = nullptr;
  T* p_ = nullptr;
  Index n_ = 0;
};

}  // namespace fastmlp
