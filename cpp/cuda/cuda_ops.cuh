// CudaOps<T>: the primitive operations of ops.hpp on the device, for backend.cu (its one
// includer): cuBLAS GEMMs (row-major through the column-major C^T = B^T A^T), element-wise kernels
// (kernels.cu), the normalization, standardization, embedding kernels (layer_kernels.cu), and
// dropout masks drawn on the host exactly as the CPU's. Every operation is queued on the backend's stream.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "cublas_loader.hpp"
#include "kernels.cuh"

namespace fastmlp::cuda::detail {

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
#define FASTMLP_CUDA_CHECK(x) check((x), #x)

void check_blas(cublasStatus_t st, const char* what) {
  if (st != 0) throw std::runtime_error(std::string("cuBLAS error ") + std::to_string(st) + " in " + what);
}

// A device array that only grows (its contents are lost when it does).
template <class U>
struct DevBuf {
  U* p = nullptr;
  i64 n = 0;
  DevBuf() = default;
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  ~DevBuf() {
    if (p) cudaFree(p);
  }
  void reserve(i64 count) {
    if (count <= n) return;
    if (p) cudaFree(p);
    p = nullptr;
    n = 0;
    FASTMLP_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p), std::size_t(count) * sizeof(U)));
    n = count;
  }
};

// Row-major C (M x N) = alpha op(A) op(B) + beta C, as column-major C^T = op(B)^T op(A)^T.
void gemm_call(const Cublas& api, cublasHandle_t h, cublasOperation_t ob, cublasOperation_t oa, int N, int M, int K,
               const float* alpha, const float* B, int ldb, const float* A, int lda, const float* beta, float* C,
               int ldc) {
  check_blas(api.sgemm(h, ob, oa, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc), "cublasSgemm_v2");
}
void gemm_call(const Cublas& api, cublasHandle_t h, cublasOperation_t ob, cublasOperation_t oa, int N, int M, int K,
               const double* alpha, const double* B, int ldb, const double* A, int lda, const double* beta, double* C,
               int ldc) {
  check_blas(api.dgemm(h, ob, oa, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc), "cublasDgemm_v2");
}

}  // namespace

// kernels.cu numbers the activations as fastmlp::Activation (ops.hpp) does.
static_assert(int(Activation::Linear) == 0 && int(Activation::Sigmoid) == 1 && int(Activation::Tanh) == 2 &&
                  int(Activation::Relu) == 3 && int(Activation::LeakyRelu) == 4 && int(Activation::Elu) == 5 &&
                  int(Activation::Softplus) == 6 && int(Activation::Softmax) == 7 && int(Activation::Step) == 8 &&
                  int(Activation::Gelu) == 9 && int(Activation::Silu) == 10 && int(Activation::Mish) == 11 &&
                  int(Activation::Exp) == 12,
              "the activation codes of kernels.cu must follow fastmlp::Activation");
static_assert(int(Norm::Batch) == 1 && int(Norm::Layer) == 2 && int(NormMode::Inference) == 0 &&
                  int(NormMode::Batch) == 1 && int(NormMode::Train) == 2,
              "the normalization codes of kernels.cu must follow fastmlp::Norm and fastmlp::NormMode");

namespace {

// Ops<T> (ops.hpp) on the device: every operation is queued on `stream`, none waits for it.
template <class T>
class CudaOps final : public Ops<T> {
 public:
  CudaOps(const Cublas& api, cublasHandle_t handle, cudaStream_t stream)
      : api_(api), handle_(handle), stream_(stream) {}
  ~CudaOps() override {
    for (auto& s : staging_) {
      if (s.copied) {
        cudaEventSynchronize(s.copied);
        cudaEventDestroy(s.copied);
      }
      if (s.host) cudaFreeHost(s.host);
    }
  }

  // cudaFree waits for the device, so a buffer that grows is not freed under a queued kernel.
  T* allocate(Index n) override {
    T* p = nullptr;
    FASTMLP_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p), sizeof(T) * std::size_t(n > 0 ? n : 1)));
    return p;
  }
  void release(T* p) override { cudaFree(p); }
  void copy(const T* src, T* dst, Index n) override {
    if (src != dst && n > 0)
      FASTMLP_CUDA_CHECK(cudaMemcpyAsync(dst, src, sizeof(T) * std::size_t(n), cudaMemcpyDeviceToDevice, stream_));
  }
  // All m rows in one strided copy (a ColumnEmbedding's numeric columns), not one call per row.
  void copy_rows(const T* src, Index lds, T* dst, Index ldd, Index m, Index n) override {
    if (sizeof(T) * std::size_t(lds > ldd ? lds : ldd) > std::size_t(INT32_MAX))  // past cudaMemcpy2D's pitch
      return Ops<T>::copy_rows(src, lds, dst, ldd, m, n);
    if (m > 0 && n > 0)
      FASTMLP_CUDA_CHECK(cudaMemcpy2DAsync(dst, sizeof(T) * std::size_t(ldd), src, sizeof(T) * std::size_t(lds),
                                           sizeof(T) * std::size_t(n), std::size_t(m), cudaMemcpyDeviceToDevice,
                                           stream_));
  }

  void gemm(bool ta, bool tb, Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb, T beta,
            T* C, Index ldc) override {
    if (M == 0 || N == 0) return;
    gemm_call(api_, handle_, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(N), int(M), int(K),
              &alpha, B, int(ldb), A, int(lda), &beta, C, int(ldc));
  }

  void bias_activate(Activation g, T alpha, const T* b, T* Z, Index m, Index k) override {
    if (b)
      detail::bias_activate<T>(stream_, Z, b, m, k, int(g), alpha);
    else
      detail::activate<T>(stream_, Z, m, k, int(g), alpha);
  }
  // Softmax from A: the row-wise Jacobian-vector product (kernels.cu).
  void activation_backward(Activation g, T alpha, const T* A, const T* Z, T* D, Index m, Index k) override {
    if (g == Activation::Linear) return;
    if (needs_z(g))
      detail::activation_backward_from_z<T>(stream_, Z, D, m, k, int(g));
    else
      detail::activation_backward<T>(stream_, A, D, m, k, int(g), alpha);
  }
  void multiply(const T* x, const T* y, T* out, Index n) override { detail::multiply<T>(stream_, x, y, out, n); }
  void standardize(const T* x, Index m, Index k, const T* mean, const T* variance, bool invert, T* y) override {
    detail::standardize<T>(stream_, x, m, k, mean, variance, invert, y);
  }
  // dx = dy / s (invert: dy s): the same kernel without the mean.
  void standardize_backward(const T* dy, Index m, Index k, const T*, const T* variance, bool invert, T* dx) override {
    detail::standardize<T>(stream_, dy, m, k, nullptr, variance, invert, dx);
  }
  void axpby(T alpha, const T* x, T beta, T* y, Index n) override { detail::axpby<T>(stream_, alpha, x, beta, y, n); }
  void gather_rows(const T* codes, Index m, Index k, Index ldc, const T* E, Index V, Index d, T* y,
                   Index ldy) override {
    detail::embedding_gather<T>(stream_, codes, m, k, ldc, E, V, d, y, ldy);
  }
  // Atomic adds: a code repeated in the batch gets its rows added in no fixed order (float sums
  // may differ in their last bits from run to run; the CPU's order is fixed).
  void scatter_add_rows(const T* codes, Index m, Index k, Index ldc, const T* dy, Index lddy, Index V, Index d, T alpha,
                        T beta, T* out) override {
    if (beta != T(1)) detail::axpby<T>(stream_, T(0), nullptr, beta, out, V * d);  // beta 0: out not read
    detail::embedding_scatter_add<T>(stream_, codes, m, k, ldc, dy, lddy, V, d, alpha, out);
  }
  // A GEMM with a vector of ones: deterministic column sums.
  void column_sums(const T* D, Index m, Index k, T alpha, T beta, T* out) override {
    if (ones_.n < m) {
      ones_.reserve(m);
      fill<T>(stream_, ones_.p, m, T(1));
    }
    gemm(false, false, 1, k, m, alpha, ones_.p, m, D, k, beta, out, k);
  }
  // sgd_rank1: the default (false); the CUDA engine never fuses the SGD step into backprop.

  void normalize(Norm kind, NormMode mode, const T* a, Index m, Index k, T eps, T momentum, const T* gamma,
                 const T* beta, T* running_mean, T* running_var, T* x_hat, T* inv_std, T* y) override {
    mean_.reserve(k);  // the batch's statistics: scratch, used within this call only
    var_.reserve(k);
    detail::normalize<T>(stream_, int(kind), int(mode), a, m, k, eps, momentum, gamma, beta, running_mean, running_var,
                         mean_.p, var_.p, x_hat, inv_std, y);
  }
  void normalize_backward(Norm kind, NormMode mode, T* D, const T* x_hat, Index m, Index k, const T* gamma,
                          const T* inv_std, T* dgamma, T* dbeta) override {
    detail::normalize_backward<T>(stream_, int(kind), mode != NormMode::Inference ? 1 : 0, D, x_hat, m, k, gamma,
                                  inv_std, dgamma, dbeta);
  }

  // The CPU's draws (cpu_ops.cpp), in the same order, so masks agree exactly; uploaded from a
  // pinned staging slot. The slots take turns, and a slot is refilled only after the copy that
  // last read it has run (its event), so the host may run a few masks ahead of the device.
  void dropout_mask(Rng& rng, double p, Index rows_before, Index m, Index rows_after, Index k, T* mask) override {
    Staging& s = staging_[next_];
    next_ = (next_ + 1) % kStaging;
    if (s.copied)
      FASTMLP_CUDA_CHECK(cudaEventSynchronize(s.copied));
    else
      FASTMLP_CUDA_CHECK(cudaEventCreateWithFlags(&s.copied, cudaEventDisableTiming));
    const Index n = m * k;
    if (s.n < n) {
      if (s.host) cudaFreeHost(s.host);
      s.host = nullptr;
      s.n = 0;
      FASTMLP_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&s.host), sizeof(T) * std::size_t(n)));
      s.n = n;
    }
    const T keep_scale = T(1.0 / (1.0 - p));
    rng.skip(std::uint64_t(rows_before * k));
    for (Index i = 0; i < n; ++i) s.host[i] = rng.uniform() >= p ? keep_scale : T(0);
    rng.skip(std::uint64_t(rows_after * k));
    if (n == 0) return;
    FASTMLP_CUDA_CHECK(cudaMemcpyAsync(mask, s.host, sizeof(T) * std::size_t(n), cudaMemcpyHostToDevice, stream_));
    FASTMLP_CUDA_CHECK(cudaEventRecord(s.copied, stream_));
  }

 private:
  static constexpr int kStaging = 8;
  struct Staging {
    T* host = nullptr;
    Index n = 0;
    cudaEvent_t copied = nullptr;  // recorded after the copy that reads `host`
  };
  const Cublas& api_;
  cublasHandle_t handle_;
  cudaStream_t stream_;
  DevBuf<T> ones_, mean_, var_;
  Staging staging_[kStaging];
  int next_ = 0;
};

}  // namespace

}  // namespace fastmlp::cuda::detail
