// The CUDA kernels of the backend. Element-wise work is fused so that a layer's
// forward pass is one GEMM + one kernel (bias + activation), the output layer's
// loss is one kernel per batch (activation, loss per row and delta = dJ/dZ
// together), and an optimizer step is one kernel over the flat buffer (any rule of
// optimizer_rules.hpp, whose per-parameter functions it calls).
// Row kernels put one warp on a row (32 lanes stride over its k entries), so
// the row reductions (max, log-sum-exp, dot products) are warp shuffles.
// Every reduction runs in a fixed order: results do not depend on timing.
// The element-wise formulas (activations, their derivatives, loss entries) are not written here:
// they are fastmlp/elementwise.hpp's host-and-device functions, the ones the CPU tests check.
#include "kernels.cuh"

#include "fastmlp/elementwise.hpp"
#include "fastmlp/optimizer_rules.hpp"

namespace fastmlp::cuda::detail {

namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerBlock = kThreads / 32;

// ---- math ----
// exp, log, sqrt: CUDA's overloads, float ones for float (expf, ...). max, min, |.|: elementwise.hpp's.
template <class T>
__device__ __forceinline__ T d_max(T a, T b) {
  return elementwise::max_of(a, b);
}
template <class T>
__device__ __forceinline__ T d_min(T a, T b) {
  return elementwise::min_of(a, b);
}

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
template <class T>
__device__ __forceinline__ T warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) v = d_max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Sum over a block of kThreads threads; the result is valid in thread 0.
template <class T>
__device__ T block_sum(T v) {
  __shared__ double raw[32];
  T* buf = reinterpret_cast<T*>(raw);
  v = warp_sum(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) buf[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x >> 5) ? buf[lane] : T(0);
    v = warp_sum(v);
  }
  return v;
}

int blocks_for(i64 n) {
  const i64 b = (n + kThreads - 1) / kThreads;
  return int(b < 1 ? 1 : (b > 65536 ? 65536 : b));
}
int row_blocks(i64 m) { return int((m + kRowsPerBlock - 1) / kRowsPerBlock); }

#define FASTMLP_GRID_STRIDE(i, n) \
  for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += i64(blockDim.x) * gridDim.x)

// ---- activations (activations.hpp): the formulas are elementwise.hpp's; g is the code int(Activation) ----
// a = g(z) (softmax: the identity, softmax_rows_kernel does the rows).
template <class T>
__device__ __forceinline__ T act_forward(int g, T z, T alpha) {
  return elementwise::g(Activation(g), z, alpha);
}
// g'(z) from z: gelu, silu, mish.
template <class T>
__device__ __forceinline__ T act_derivative_z(int g, T z) {
  return elementwise::g_prime_from_z(Activation(g), z);
}
template <class T>
__global__ void backward_z_kernel(const T* Z, T* D, i64 n, int g) {
  FASTMLP_GRID_STRIDE(i, n) { D[i] *= act_derivative_z<T>(g, Z[i]); }
}

template <class T>
__global__ void bias_activate_kernel(T* Z, const T* b, i64 m, i64 k, int g, T alpha) {
  FASTMLP_GRID_STRIDE(i, m * k) { Z[i] = act_forward<T>(g, Z[i] + b[i % k], alpha); }
}
template <class T>
__global__ void activate_kernel(T* Z, i64 n, int g, T alpha) {
  FASTMLP_GRID_STRIDE(i, n) { Z[i] = act_forward<T>(g, Z[i], alpha); }
}
template <class T>
__global__ void softmax_rows_kernel(T* Z, i64 m, i64 k) {
  const i64 row = i64(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= m) return;
  T* z = Z + row * k;
  T zmax = -T(INFINITY);
  for (i64 j = lane; j < k; j += 32) zmax = d_max(zmax, z[j]);
  zmax = warp_max(zmax);
  T s = 0;
  for (i64 j = lane; j < k; j += 32) {
    const T e = exp(z[j] - zmax);
    z[j] = e;
    s += e;
  }
  s = warp_sum(s);
  for (i64 j = lane; j < k; j += 32) z[j] /= s;
}
template <class T>
__global__ void backward_kernel(const T* A, T* D, i64 n, int g, T alpha) {
  FASTMLP_GRID_STRIDE(i, n) { D[i] = elementwise::dz_from_a(Activation(g), A[i], D[i], alpha); }
}
template <class T>
__global__ void softmax_backward_kernel(const T* A, T* D, i64 m, i64 k) {
  const i64 row = i64(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= m) return;
  const T* a = A + row * k;
  T* d = D + row * k;
  T s = 0;
  for (i64 j = lane; j < k; j += 32) s += d[j] * a[j];
  s = warp_sum(s);
  for (i64 j = lane; j < k; j += 32) d[j] = a[j] * (d[j] - s);
}
template <class T>
__global__ void multiply_kernel(const T* A, const T* M, T* out, i64 n) {
  FASTMLP_GRID_STRIDE(i, n) { out[i] = A[i] * M[i]; }
}

// ---- losses (losses.hpp) ----
// The factor of row i in the mean: w_i / sum w (0 when the weights sum to 0), or 1 / m.
template <class T>
__device__ __forceinline__ T row_scale(const T* w, const T* wsum, i64 row, i64 m) {
  if (!w) return T(1) / T(m);
  return *wsum > T(0) ? w[row] * (T(1) / *wsum) : T(0);  // an all-zero-weight batch counts for nothing
}

template <class T>
__global__ void sum_kernel(const T* x, i64 n, T* out) {
  T v = 0;
  for (i64 i = threadIdx.x; i < n; i += blockDim.x) v += x[i];
  v = block_sum(v);
  if (threadIdx.x == 0) *out = v;
}

template <class T>
__global__ void softmax_ce_kernel(T* Z, const std::int32_t* labels, const T* Y, const T* w, const T* wsum, i64 m, i64 k,
                                  T* delta, T* row_loss) {
  const i64 row = i64(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= m) return;
  T* z = Z + row * k;
  const T* y = Y ? Y + row * k : nullptr;
  const int label = labels ? labels[row] : 0;
  const T zy = labels ? z[label] : T(0);
  T zmax = -T(INFINITY);
  for (i64 j = lane; j < k; j += 32) zmax = d_max(zmax, z[j]);
  zmax = warp_max(zmax);
  T se = 0, ysum = 0, ydz = 0;
  for (i64 j = lane; j < k; j += 32) {
    se += exp(z[j] - zmax);
    if (y) {
      ysum += y[j];
      ydz += y[j] * z[j];
    }
  }
  se = warp_sum(se);
  if (y) {
    ysum = warp_sum(ysum);
    ydz = warp_sum(ydz);
  } else {
    ysum = T(1);
  }
  __syncwarp();  // every lane has read its z before any lane overwrites it
  const T lse = zmax + log(se);
  const T s = row_scale(w, wsum, row, m);
  if (lane == 0) row_loss[row] = y ? s * (ysum * lse - ydz) : s * (lse - zy);
  for (i64 j = lane; j < k; j += 32) {
    const T p = exp(z[j] - lse);
    z[j] = p;
    if (delta) {
      T* d = delta + row * k;
      if (y)
        d[j] = (p * ysum - y[j]) * s;
      else
        d[j] = j == label ? p * s - s : p * s;
    }
  }
}

// A loss from the logits with its link (losses.cpp from_logits), one warp per row: entry(z, y, p)
// returns the entry's loss and sets p = link(z); Z becomes p, delta = (p - y) s / k.
template <class T, class Entry>
__global__ void from_logits_kernel(T* Z, const T* Y, const T* w, const T* wsum, i64 m, i64 k, T* delta, T* row_loss,
                                   Entry entry) {
  const i64 row = i64(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= m) return;
  T* z = Z + row * k;
  const T* y = Y + row * k;
  const T scale = row_scale(w, wsum, row, m) * (T(1) / T(k));
  T total = 0;
  for (i64 j = lane; j < k; j += 32) {
    T p;
    total += entry(z[j], y[j], p);
    z[j] = p;
    if (delta) delta[row * k + j] = (p - y[j]) * scale;
  }
  total = warp_sum(total);
  if (lane == 0) row_loss[row] = total * scale;
}

// sigmoid + binary cross-entropy: max(z,0) - z y + ln(1 + e^-|z|), the stable sigmoid.
template <class T>
struct SigmoidBce {
  __device__ T operator()(T z, T y, T& p) const {
    p = elementwise::stable_sigmoid(z);
    return elementwise::bce_from_logit(z, y);
  }
};
// exp + poisson: e^z - y z + y ln y - y.
template <class T>
struct ExpPoisson {
  __device__ T operator()(T z, T y, T& p) const {
    p = exp(z);
    return elementwise::poisson_from_logit(z, y);  // its e^z is p's (the compiler computes it once)
  }
};

template <class T>
__global__ void regression_kernel(int loss, const T* A, const T* Y, const T* w, const T* wsum, i64 m, i64 k, T* delta,
                                  T* row_loss) {
  const i64 row = i64(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= m) return;
  const T* a = A + row * k;
  const T* y = Y + row * k;
  const T scale = row_scale(w, wsum, row, m) * (T(1) / T(k));
  T total = 0;
  for (i64 j = lane; j < k; j += 32) {
    const T r = a[j] - y[j];  // mse, mae or huber
    total += elementwise::regression_l(Loss(loss), r);
    if (delta) delta[row * k + j] = elementwise::regression_dl_dr(Loss(loss), r) * scale;
  }
  total = warp_sum(total);
  if (lane == 0) row_loss[row] = total * scale;
}

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

template <class T>
__global__ void sumsq_partials_kernel(const T* x, i64 n, T* partials) {
  T v = 0;
  FASTMLP_GRID_STRIDE(i, n) { v += x[i] * x[i]; }
  v = block_sum(v);
  if (threadIdx.x == 0) partials[blockIdx.x] = v;
}

template <class T>
__global__ void finish_loss_kernel(const T* row_loss, i64 m, const T* partials, i64 n_partials, T half_l2, T* J) {
  T a = 0, b = 0;
  for (i64 i = threadIdx.x; i < m; i += blockDim.x) a += row_loss[i];
  for (i64 i = threadIdx.x; i < n_partials; i += blockDim.x) b += partials[i];
  a = block_sum(a);
  __syncthreads();
  b = block_sum(b);
  if (threadIdx.x == 0) *J = n_partials > 0 ? a + half_l2 * b : a;
}

// First index of the row maximum (Eigen's maxCoeff), as (value, index) over a warp.
template <class T>
__device__ i64 warp_argmax(const T* x, i64 k, int lane) {
  T best = -T(INFINITY);
  i64 idx = k;
  for (i64 j = lane; j < k; j += 32)  // increasing j: ties keep the first index
    if (idx == k || x[j] > best) {
      best = x[j];
      idx = j;
    }
  for (int o = 16; o > 0; o >>= 1) {
    const T ob = __shfl_xor_sync(0xffffffffu, best, o);
    const i64 oi = __shfl_xor_sync(0xffffffffu, idx, o);
    if (oi < k && (idx == k || ob > best || (ob == best && oi < idx))) {
      best = ob;
      idx = oi;
    }
  }
  return idx;
}

template <class T>
__global__ void count_correct_kernel(const T* A, const std::int32_t* labels, const T* Y, i64 m, i64 k, bool softmax,
                                     unsigned long long* correct) {
  const i64 row = i64(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= m) return;
  const T* a = A + row * k;
  bool ok;
  if (softmax) {
    const i64 pred = warp_argmax(a, k, lane);
    const i64 truth = labels ? i64(labels[row]) : warp_argmax(Y + row * k, k, lane);
    ok = pred == truth;
  } else {
    bool all = true;
    for (i64 j = lane; j < k; j += 32) all = all && ((a[j] >= T(0.5)) == (Y[row * k + j] >= T(0.5)));
    ok = __all_sync(0xffffffffu, all);
  }
  if (lane == 0 && ok) atomicAdd(correct, 1ull);
}

// ---- optimizers: one kernel for every rule of optimizer_rules.hpp ----
// Step: the rule's Step<T>, its coefficients of this step computed on the host; s: its state
// slots, n apart.
template <class Step, class T>
__global__ void optimizer_kernel(Step step, T* w, const T* g, T* s, i64 n) {
  FASTMLP_GRID_STRIDE(i, n) {
    T wi = w[i];
    step(wi, g[i], OptimizerState<T>{s + i, n});
    w[i] = wi;
  }
}

template <class T>
__global__ void clip_value_kernel(T* g, i64 n, T c) {
  FASTMLP_GRID_STRIDE(i, n) { g[i] = d_max(-c, d_min(c, g[i])); }
}

// Every thread adds the kSumsqBlocks partials in the same order: one norm for all.
template <class T>
__global__ void clip_norm_kernel(T* g, i64 n, const T* partials, int n_partials, T max_norm) {
  T sq = 0;
  for (int p = 0; p < n_partials; ++p) sq += partials[p];
  const T f = max_norm / (sqrt(sq) + T(1e-6));  // PyTorch's clip_grad_norm_
  if (!(f < T(1))) return;
  FASTMLP_GRID_STRIDE(i, n) { g[i] *= f; }
}

// ---- data ----
template <class T>
__global__ void gather_kernel(const std::int64_t* order, i64 nb, const T* src, i64 cols, T* dst) {
  FASTMLP_GRID_STRIDE(i, nb * cols) {
    const i64 r = i / cols, c = i - r * cols;
    dst[i] = src[order[r] * cols + c];
  }
}
template <class T>
__global__ void gather_small_kernel(const std::int64_t* order, i64 nb, const std::int32_t* labels,
                                    std::int32_t* labels_b, const T* w, T* wb) {
  FASTMLP_GRID_STRIDE(i, nb) {
    if (labels) labels_b[i] = labels[order[i]];
    if (w) wb[i] = w[order[i]];
  }
}
template <class T>
__global__ void fill_kernel(T* x, i64 n, T value) {
  FASTMLP_GRID_STRIDE(i, n) { x[i] = value; }
}

}  // namespace

// ---- launchers ----
template <class T>
void bias_activate(cudaStream_t s, T* Z, const T* b, i64 m, i64 k, int act, T alpha) {
  if (m * k == 0) return;
  bias_activate_kernel<T><<<blocks_for(m * k), kThreads, 0, s>>>(Z, b, m, k, act == 7 ? 0 : act, alpha);
  if (act == 7) softmax_rows_kernel<T><<<row_blocks(m), kThreads, 0, s>>>(Z, m, k);
}

template <class T>
void activate(cudaStream_t s, T* Z, i64 m, i64 k, int act, T alpha) {
  if (m * k == 0 || act == 0) return;
  if (act == 7)
    softmax_rows_kernel<T><<<row_blocks(m), kThreads, 0, s>>>(Z, m, k);
  else
    activate_kernel<T><<<blocks_for(m * k), kThreads, 0, s>>>(Z, m * k, act, alpha);
}

template <class T>
void activation_backward(cudaStream_t s, const T* A, T* dA, i64 m, i64 k, int act, T alpha) {
  if (m * k == 0 || act == 0) return;
  if (act == 7)
    softmax_backward_kernel<T><<<row_blocks(m), kThreads, 0, s>>>(A, dA, m, k);
  else
    backward_kernel<T><<<blocks_for(m * k), kThreads, 0, s>>>(A, dA, m * k, act, alpha);
}

template <class T>
void activation_backward_from_z(cudaStream_t s, const T* Z, T* dA, i64 m, i64 k, int act) {
  if (m * k > 0) backward_z_kernel<T><<<blocks_for(m * k), kThreads, 0, s>>>(Z, dA, m * k, act);
}

template <class T>
void multiply(cudaStream_t s, const T* A, const T* mask, T* out, i64 n) {
  if (n > 0) multiply_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(A, mask, out, n);
}

template <class T>
void sum(cudaStream_t s, const T* w, i64 m, T* out) {
  sum_kernel<T><<<1, kThreads, 0, s>>>(w, m, out);
}

template <class T>
void softmax_crossentropy(cudaStream_t s, T* Z, const std::int32_t* labels, const T* Y, const T* w, const T* wsum,
                          i64 m, i64 k, T* delta, T* row_loss) {
  softmax_ce_kernel<T><<<row_blocks(m), kThreads, 0, s>>>(Z, labels, Y, w, wsum, m, k, delta, row_loss);
}

template <class T>
void from_logits(cudaStream_t s, int loss, T* Z, const T* Y, const T* w, const T* wsum, i64 m, i64 k, T* delta,
                 T* row_loss) {
  if (loss == 0)
    from_logits_kernel<T><<<row_blocks(m), kThreads, 0, s>>>(Z, Y, w, wsum, m, k, delta, row_loss, SigmoidBce<T>{});
  else
    from_logits_kernel<T><<<row_blocks(m), kThreads, 0, s>>>(Z, Y, w, wsum, m, k, delta, row_loss, ExpPoisson<T>{});
}

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

template <class T>
void regression_error(cudaStream_t s, int loss, const T* A, const T* Y, const T* w, const T* wsum, i64 m, i64 k,
                      T* delta, T* row_loss) {
  regression_kernel<T><<<row_blocks(m), kThreads, 0, s>>>(loss, A, Y, w, wsum, m, k, delta, row_loss);
}

template <class T>
void sumsq_partials(cudaStream_t s, const T* x, i64 n, T* partials) {
  sumsq_partials_kernel<T><<<kSumsqBlocks, kThreads, 0, s>>>(x, n, partials);
}

template <class T>
void finish_loss(cudaStream_t s, const T* row_loss, i64 m, const T* partials, i64 n_partials, T half_l2, T* J) {
  finish_loss_kernel<T><<<1, kThreads, 0, s>>>(row_loss, m, partials, n_partials, half_l2, J);
}

template <class T>
void count_correct(cudaStream_t s, const T* A, const std::int32_t* labels, const T* Y, i64 m, i64 k, bool softmax,
                   unsigned long long* correct) {
  count_correct_kernel<T><<<row_blocks(m), kThreads, 0, s>>>(A, labels, Y, m, k, softmax, correct);
}

template <class T>
void optimizer_update(cudaStream_t s, const UpdateStep& u, T* w, const T* g, T* state, i64 n) {
  if (n == 0) return;
  OptimizerRules::visit(u.kind, [&](auto rule) {
    using Step = typename decltype(rule)::template Step<T>;
    optimizer_kernel<Step, T>
        <<<blocks_for(n), kThreads, 0, s>>>(Step(u.hyper, T(u.learning_rate), u.t), w, g, state, n);
  });
}

template <class T>
void clip_gradients(cudaStream_t s, T* g, i64 n, T clip_value, T clip_norm, T* partials) {
  if (n == 0) return;
  if (clip_value > T(0)) clip_value_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(g, n, clip_value);
  if (clip_norm > T(0)) {
    sumsq_partials_kernel<T><<<kSumsqBlocks, kThreads, 0, s>>>(g, n, partials);
    clip_norm_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(g, n, partials, kSumsqBlocks, clip_norm);
  }
}

template <class T>
void gather_rows(cudaStream_t s, const std::int64_t* order, i64 nb, const T* X, i64 d, T* Xb, const T* Y, i64 k, T* Yb,
                 const std::int32_t* labels, std::int32_t* labels_b, const T* w, T* wb) {
  if (nb == 0) return;
  gather_kernel<T><<<blocks_for(nb * d), kThreads, 0, s>>>(order, nb, X, d, Xb);
  if (Y) gather_kernel<T><<<blocks_for(nb * k), kThreads, 0, s>>>(order, nb, Y, k, Yb);
  if (labels || w) gather_small_kernel<T><<<blocks_for(nb), kThreads, 0, s>>>(order, nb, labels, labels_b, w, wb);
}

template <class T>
void fill(cudaStream_t s, T* x, i64 n, T value) {
  if (n > 0) fill_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(x, n, value);
}

#define FASTMLP_INSTANTIATE(T)                                                                                         \
  template void bias_activate<T>(cudaStream_t, T*, const T*, i64, i64, int, T);                                        \
  template void activate<T>(cudaStream_t, T*, i64, i64, int, T);                                                       \
  template void activation_backward<T>(cudaStream_t, const T*, T*, i64, i64, int, T);                                  \
  template void multiply<T>(cudaStream_t, const T*, const T*, T*, i64);                                                \
  template void sum<T>(cudaStream_t, const T*, i64, T*);                                                               \
  template void softmax_crossentropy<T>(cudaStream_t, T*, const std::int32_t*, const T*, const T*, const T*, i64, i64, \
                                        T*, T*);                                                                       \
  template void from_logits<T>(cudaStream_t, int, T*, const T*, const T*, const T*, i64, i64, T*, T*);                 \
  template void normalize<T>(cudaStream_t, int, int, const T*, i64, i64, T, T, const T*, const T*, T*, T*, T*, T*, T*, \
                             T*, T*);                                                                                  \
  template void normalize_backward<T>(cudaStream_t, int, int, T*, const T*, i64, i64, const T*, const T*, T*, T*);     \
  template void regression_error<T>(cudaStream_t, int, const T*, const T*, const T*, const T*, i64, i64, T*, T*);      \
  template void activation_backward_from_z<T>(cudaStream_t, const T*, T*, i64, i64, int);                              \
  template void optimizer_update<T>(cudaStream_t, const UpdateStep&, T*, const T*, T*, i64);                           \
  template void clip_gradients<T>(cudaStream_t, T*, i64, T, T, T*);                                                    \
  template void sumsq_partials<T>(cudaStream_t, const T*, i64, T*);                                                    \
  template void finish_loss<T>(cudaStream_t, const T*, i64, const T*, i64, T, T*);                                     \
  template void count_correct<T>(cudaStream_t, const T*, const std::int32_t*, const T*, i64, i64, bool,                \
                                 unsigned long long*);                                                                 \
  template void gather_rows<T>(cudaStream_t, const std::int64_t*, i64, const T*, i64, T*, const T*, i64, T*,           \
                               const std::int32_t*, std::int32_t*, const T*, T*);                                      \
  template void fill<T>(cudaStream_t, T*, i64, T);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

// ---- Ops::axpby (cpp/cuda/backend.cu's CudaOps) ----
namespace {
template <class T>
__global__ void axpby_kernel(T alpha, const T* x, T beta, T* y, i64 n) {
  FASTMLP_GRID_STRIDE(i, n) {
    const T ax = alpha == T(0) ? T(0) : alpha * x[i];
    y[i] = beta == T(0) ? ax : ax + beta * y[i];
  }
}
}  // namespace

template <class T>
void axpby(cudaStream_t s, T alpha, const T* x, T beta, T* y, i64 n) {
  if (n > 0) axpby_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(alpha, x, beta, y, n);
}
template void axpby<float>(cudaStream_t, float, const float*, float, float*, i64);
template void axpby<double>(cudaStream_t, double, const double*, double, double*, i64);

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
