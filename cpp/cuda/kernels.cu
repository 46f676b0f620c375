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
// The kernels of normalization, standardization and embeddings are in layer_kernels.cu; the helpers
// both files use (block shape, reductions, grid sizes) in kernel_common.cuh.
#include "kernel_common.cuh"
#include "kernels.cuh"

#include "fastmlp/elementwise.hpp"
#include "fastmlp/optimizer_rules.hpp"

namespace fastmlp::cuda::detail {

namespace {

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

}  // namespace fastmlp::cuda::detail
