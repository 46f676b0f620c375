// The CUDA kernels of the layers other than Dense: a hidden layer's normalization (batch, layer), the
// standardization of a Normalization layer, the lookups of an Embedding / ColumnEmbedding. Their launchers
// are declared in kernels.cuh; the conventions (a warp per row, reductions in a fixed order) are kernels.cu's.
#include "kernel_common.cuh"
#include "kernels.cuh"

namespace fastmlp::cuda::detail {

namespace {

// ---- normalization of a hidden layer's output (network.hpp) ----
// Batch statistics, one block per column j (grid-stride over columns): mean, biased variance;
// with update, running = momentum running + (1 - momentum) batch. Two passes over the column.
template <class T>
__global__ void col_stats_kernel(const T* A, i64 m, i64 k, T* mean, T* var, T* run_mean, T* run_var, T momentum,
                                 int update) {
  __shared__ double shared_mu;
  for (i64 j = blockIdx.x; j < k; j += gridDim.x) {
    T s = 0;
    for (i64 i = threadIdx.x; i < m; i += blockDim.x) s += A[i * k + j];
    s = block_sum(s);
    if (threadIdx.x == 0) shared_mu = double(s / T(m));
    __syncthreads();
    const T mu = T(shared_mu);
    T q = 0;
    for (i64 i = threadIdx.x; i < m; i += blockDim.x) {
      const T c = A[i * k + j] - mu;
      q += c * c;
    }
    q = block_sum(q);
    if (threadIdx.x == 0) {
      const T v = q / T(m);
      mean[j] = mu;
      var[j] = v;
      if (update) {
        run_mean[j] = momentum * run_mean[j] + (T(1) - momentum) * mu;
        run_var[j] = momentum * run_var[j] + (T(1) - momentum) * v;
      }
    }
    __syncthreads();  // shared_mu is rewritten for the next column
  }
}
// x_hat = (a - mean_j) / sqrt(var_j + eps), y = gamma_j x_hat + beta_j; inv_std_j kept.
template <class T>
__global__ void batch_norm_apply_kernel(const T* A, i64 m, i64 k, const T* mean, const T* var, T eps, const T* gamma,
                                        const T* beta, T* x_hat, T* inv_std, T* Y) {
  FASTMLP_GRID_STRIDE(i, m * k) {
    const i64 j = i % k;
    const T inv = T(1) / sqrt(var[j] + eps);
    const T xh = (A[i] - mean[j]) * inv;
    x_hat[i] = xh;
    Y[i] = gamma[j] * xh + beta[j];
    if (i < k) inv_std[i] = inv;
  }
}
// Layer normalization, one warp per row: x_hat over the row's units, inv_std per row.
template <class T>
__global__ void layer_norm_kernel(const T* A, i64 m, i64 k, T eps, const T* gamma, const T* beta, T* x_hat, T* inv_std,
                                  T* Y) {
  const i64 row = i64(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= m) return;
  const T* a = A + row * k;
  T s = 0;
  for (i64 j = lane; j < k; j += 32) s += a[j];
  const T mu = warp_sum(s) / T(k);
  T q = 0;
  for (i64 j = lane; j < k; j += 32) q += (a[j] - mu) * (a[j] - mu);
  const T inv = T(1) / sqrt(warp_sum(q) / T(k) + eps);
  for (i64 j = lane; j < k; j += 32) {
    const T xh = (a[j] - mu) * inv;
    x_hat[row * k + j] = xh;
    Y[row * k + j] = gamma[j] * xh + beta[j];
  }
  if (lane == 0) inv_std[row] = inv;
}
// dgamma_j = sum_i g x_hat, dbeta_j = sum_i g: one block per column.
template <class T>
__global__ void norm_param_grads_kernel(const T* G, const T* x_hat, i64 m, i64 k, T* d_gamma, T* d_beta) {
  for (i64 j = blockIdx.x; j < k; j += gridDim.x) {
    T sg = 0, sgx = 0;
    for (i64 i = threadIdx.x; i < m; i += blockDim.x) {
      sg += G[i * k + j];
      sgx += G[i * k + j] * x_hat[i * k + j];
    }
    sg = block_sum(sg);
    __syncthreads();  // block_sum's shared buffer is reused
    sgx = block_sum(sgx);
    if (threadIdx.x == 0) {
      d_beta[j] = sg;
      d_gamma[j] = sgx;
    }
    __syncthreads();
  }
}
// Batch normalization backward, G (dJ/dy) -> dJ/da in place: by the batch's statistics
// gamma inv (g - dbeta / m - x_hat dgamma / m); by the running ones gamma inv g.
template <class T>
__global__ void batch_norm_backward_kernel(T* G, const T* x_hat, i64 m, i64 k, const T* gamma, const T* inv_std,
                                           const T* d_gamma, const T* d_beta, int batch_statistics) {
  FASTMLP_GRID_STRIDE(i, m * k) {
    const i64 j = i % k;
    const T g = G[i];
    G[i] = batch_statistics ? gamma[j] * inv_std[j] * (g - d_beta[j] / T(m) - x_hat[i] * d_gamma[j] / T(m))
                            : gamma[j] * inv_std[j] * g;
  }
}
// Layer normalization backward, one warp per row: (gamma g - mean(gamma g) - x_hat mean(gamma g x_hat)) inv_i.
template <class T>
__global__ void layer_norm_backward_kernel(T* G, const T* x_hat, i64 m, i64 k, const T* gamma, const T* inv_std) {
  const i64 row = i64(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= m) return;
  T* g = G + row * k;
  const T* xh = x_hat + row * k;
  T s = 0, sx = 0;
  for (i64 j = lane; j < k; j += 32) {
    s += gamma[j] * g[j];
    sx += gamma[j] * g[j] * xh[j];
  }
  const T mean_g = warp_sum(s) / T(k), mean_gx = warp_sum(sx) / T(k);
  __syncwarp();  // every lane has read its g before any lane overwrites it
  for (i64 j = lane; j < k; j += 32) g[j] = (gamma[j] * g[j] - mean_g - xh[j] * mean_gx) * inv_std[row];
}

}  // namespace

template <class T>
void normalize(cudaStream_t s, int kind, int mode, const T* A, i64 m, i64 k, T eps, T momentum, const T* gamma,
               const T* beta, T* run_mean, T* run_var, T* mean, T* var, T* x_hat, T* inv_std, T* Y) {
  if (m == 0) return;
  if (kind == 2) {
    layer_norm_kernel<T><<<row_blocks(m), kThreads, 0, s>>>(A, m, k, eps, gamma, beta, x_hat, inv_std, Y);
    return;
  }
  const T* mu = run_mean;
  const T* v = run_var;
  if (mode != 0) {  // the batch's statistics (mode 2: and the running ones updated)
    col_stats_kernel<T><<<int(k < 65536 ? k : 65536), kThreads, 0, s>>>(A, m, k, mean, var, run_mean, run_var, momentum,
                                                                        mode == 2 ? 1 : 0);
    mu = mean, v = var;
  }
  batch_norm_apply_kernel<T>
      <<<blocks_for(m * k), kThreads, 0, s>>>(A, m, k, mu, v, eps, gamma, beta, x_hat, inv_std, Y);
}

template <class T>
void normalize_backward(cudaStream_t s, int kind, int batch_statistics, T* G, const T* x_hat, i64 m, i64 k,
                        const T* gamma, const T* inv_std, T* d_gamma, T* d_beta) {
  if (m == 0) return;
  norm_param_grads_kernel<T><<<int(k < 65536 ? k : 65536), kThreads, 0, s>>>(G, x_hat, m, k, d_gamma, d_beta);
  if (kind == 2)
    layer_norm_backward_kernel<T><<<row_blocks(m), kThreads, 0, s>>>(G, x_hat, m, k, gamma, inv_std);
  else
    batch_norm_backward_kernel<T>
        <<<blocks_for(m * k), kThreads, 0, s>>>(G, x_hat, m, k, gamma, inv_std, d_gamma, d_beta, batch_statistics);
}

#define FASTMLP_INSTANTIATE(T)                                                                                         \
  template void normalize<T>(cudaStream_t, int, int, const T*, i64, i64, T, T, const T*, const T*, T*, T*, T*, T*, T*, \
                             T*, T*);                                                                                  \
  template void normalize_backward<T>(cudaStream_t, int, int, T*, const T*, i64, i64, const T*, const T*, T*, T*);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

// ---- Ops::standardize, Ops::standardize_backward (mean null) ----
namespace {
template <class T>
__global__ void standardize_kernel(const T* x, i64 m, i64 k, const T* mean, const T* variance, bool invert, T* y) {
  FASTMLP_GRID_STRIDE(i, m * k) {
    const i64 j = i % k;
    const T v = variance[j];
    const T s = v > T(0) ? sqrt(v) : T(1);  // a constant column stays unscaled (scikit-learn's rule)
    const T mu = mean ? mean[j] : T(0);
    y[i] = invert ? x[i] * s + mu : (x[i] - mu) / s;
  }
}
}  // namespace

template <class T>
void standardize(cudaStream_t s, const T* x, i64 m, i64 k, const T* mean, const T* variance, bool invert, T* y) {
  if (m * k > 0) standardize_kernel<T><<<blocks_for(m * k), kThreads, 0, s>>>(x, m, k, mean, variance, invert, y);
}
template void standardize<float>(cudaStream_t, const float*, i64, i64, const float*, const float*, bool, float*);
template void standardize<double>(cudaStream_t, const double*, i64, i64, const double*, const double*, bool, double*);

// ---- Ops::gather_rows, Ops::scatter_add_rows (an Embedding layer, a ColumnEmbedding's tables) ----
// double atomicAdd needs sm_60 (the default architectures start at 75; CUDA 13 supports no older).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 600
#error "fastmlp's CUDA engine needs compute capability 6.0 or newer (atomicAdd on double)"
#endif
namespace {
// The row of code v, or -1 when v is not an integer in [0, V) (NaN too: every comparison is false).
template <class T>
__device__ __forceinline__ i64 code_row(T v, i64 V) {
  return v >= T(0) && v < T(V) && v == floor(v) ? i64(v) : -1;
}
// One thread per output entry e = (i k + j) d + c of the m x k d block:
// y[i ldy + j d + c] = E[codes[i ldc + j], c]; a bad code gives NaN (E is never read out of bounds).
template <class T>
__global__ void embedding_gather_kernel(const T* codes, i64 m, i64 k, i64 ldc, const T* E, i64 V, i64 d, T* y,
                                        i64 ldy) {
  FASTMLP_GRID_STRIDE(e, m * k * d) {
    const i64 ij = e / d, c = e % d, i = ij / k, j = ij % k;
    const i64 row = code_row(codes[i * ldc + j], V);
    y[i * ldy + j * d + c] = row >= 0 ? E[row * d + c] : T(NAN);
  }
}
// One thread per entry of dy's m x k d block (row stride lddy): out[code, c] += alpha dy[...]; a bad
// code adds nothing (out is never written out of bounds).
template <class T>
__global__ void embedding_scatter_kernel(const T* codes, i64 m, i64 k, i64 ldc, const T* dy, i64 lddy, i64 V, i64 d,
                                         T alpha, T* out) {
  FASTMLP_GRID_STRIDE(e, m * k * d) {
    const i64 ij = e / d, c = e % d, i = ij / k, j = ij % k;
    const i64 row = code_row(codes[i * ldc + j], V);
    if (row >= 0) atomicAdd(out + row * d + c, alpha * dy[i * lddy + j * d + c]);
  }
}
}  // namespace

template <class T>
void embedding_gather(cudaStream_t s, const T* codes, i64 m, i64 k, i64 ldc, const T* E, i64 V, i64 d, T* y, i64 ldy) {
  if (m * k * d > 0)
    embedding_gather_kernel<T><<<blocks_for(m * k * d), kThreads, 0, s>>>(codes, m, k, ldc, E, V, d, y, ldy);
}
template <class T>
void embedding_scatter_add(cudaStream_t s, const T* codes, i64 m, i64 k, i64 ldc, const T* dy, i64 lddy, i64 V, i64 d,
                           T alpha, T* out) {
  if (m * k * d > 0)
    embedding_scatter_kernel<T>
        <<<blocks_for(m * k * d), kThreads, 0, s>>>(codes, m, k, ldc, dy, lddy, V, d, alpha, out);
}
template void embedding_gather<float>(cudaStream_t, const float*, i64, i64, i64, const float*, i64, i64, float*, i64);
template void embedding_gather<double>(cudaStream_t, const double*, i64, i64, i64, const double*, i64, i64, double*,
                                       i64);
template void embedding_scatter_add<float>(cudaStream_t, const float*, i64, i64, i64, const float*, i64, i64, i64,
                                           float, float*);
template void embedding_scatter_add<double>(cudaStream_t, const double*, i64, i64, i64, const double*, i64, i64, i64,
                                            double, double*);

}  // namespace fastmlp::cuda::detail
