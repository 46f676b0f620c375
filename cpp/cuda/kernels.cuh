// Kernel launchers of the CUDA backend (kernels.cu, layer_kernels.cu), used by backend.cu. Each
// takes the stream to run on; none synchronizes. Shapes are row-major, m rows
// (samples) x k columns (units). Formulas: activations.hpp, losses.hpp,
// optimizers.hpp (see those headers; the kernels say only how they are fused);
// the element-wise ones are elementwise.hpp's functions, which the kernels call.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "fastmlp/optimizer_rules.hpp"

namespace fastmlp::cuda::detail {

using i64 = std::int64_t;

// Z <- g(Z + 1 b) element-wise (act != softmax; softmax: softmax_rows after act = linear).
template <class T>
void bias_activate(cudaStream_t s, T* Z, const T* b, i64 m, i64 k, int act, T alpha);
// Z <- g(Z) (any activation, softmax row-wise).
template <class T>
void activate(cudaStream_t s, T* Z, i64 m, i64 k, int act, T alpha);
// dA <- dA * g'(from A), any activation (softmax: the row-wise Jacobian-vector product).
template <class T>
void activation_backward(cudaStream_t s, const T* A, T* dA, i64 m, i64 k, int act, T alpha);
// dA <- dA * g'(from Z) for gelu / silu / mish (activations.hpp needs_z).
template <class T>
void activation_backward_from_z(cudaStream_t s, const T* Z, T* dA, i64 m, i64 k, int act);
// out = A * mask (dropout), or A *= mask when out == A.
template <class T>
void multiply(cudaStream_t s, const T* A, const T* mask, T* out, i64 n);

// sum(w[0, m)) into *out (single block).
template <class T>
void sum(cudaStream_t s, const T* w, i64 m, T* out);
// Per-row losses of the output layer; Z (logits) becomes A in place; delta (may be null)
// receives dJ/dZ. wsum: device pointer to sum(weights) when weights are given.
//   softmax + categorical cross-entropy, targets as labels or dense rows
template <class T>
void softmax_crossentropy(cudaStream_t s, T* Z, const std::int32_t* labels, const T* Y, const T* w, const T* wsum,
                          i64 m, i64 k, T* delta, T* row_loss);
//   a loss from the logits with its link (loss: 0 sigmoid + binary cross-entropy, log-sum-exp
//   style; 5 exp + poisson): Z becomes p = link(z), delta = (p - y) s / k
template <class T>
void from_logits(cudaStream_t s, int loss, T* Z, const T* Y, const T* w, const T* wsum, i64 m, i64 k, T* delta,
                 T* row_loss);
// Normalization of a hidden layer's output (network.hpp); kind 1 batch, 2 layer; mode 0
// running statistics, 1 the batch's, 2 the batch's with the running ones updated. Keeps
// x_hat and inv_std (k per unit, or m per row) for the backward pass; mean, var: k each.
template <class T>
void normalize(cudaStream_t s, int kind, int mode, const T* A, i64 m, i64 k, T eps, T momentum, const T* gamma,
               const T* beta, T* run_mean, T* run_var, T* mean, T* var, T* x_hat, T* inv_std, T* Y);
// G = dJ/dy becomes dJ/da in place; dgamma, dbeta written (column sums, deterministic).
template <class T>
void normalize_backward(cudaStream_t s, int kind, int batch_statistics, T* G, const T* x_hat, i64 m, i64 k,
                        const T* gamma, const T* inv_std, T* d_gamma, T* d_beta);
//   the regression losses (loss: 2 mse, 3 mae, 4 huber) on A = g(Z) (activate first);
//   delta = dl/dr s / k with r = a - y, before g'.
template <class T>
void regression_error(cudaStream_t s, int loss, const T* A, const T* Y, const T* w, const T* wsum, i64 m, i64 k,
                      T* delta, T* row_loss);
// Partial sums of squares of x[0, n) into partials[0, kSumsqBlocks).
constexpr int kSumsqBlocks = 64;
template <class T>
void sumsq_partials(cudaStream_t s, const T* x, i64 n, T* partials);
// *J = sum(row_loss[0, m)) + half_l2 * sum(partials[0, n_partials)).
template <class T>
void finish_loss(cudaStream_t s, const T* row_loss, i64 m, const T* partials, i64 n_partials, T half_l2, T* J);
// Adds to *correct the rows whose prediction matches (losses.hpp count_correct).
template <class T>
void count_correct(cudaStream_t s, const T* A, const std::int32_t* labels, const T* Y, i64 m, i64 k, bool softmax,
                   unsigned long long* correct);

// One step of the optimizer rule u.kind (optimizer_rules.hpp) on the flat buffer w (n values)
// from g, its u.n_states state slots at state (n apart).
template <class T>
void optimizer_update(cudaStream_t s, const UpdateStep& u, T* w, const T* g, T* state, i64 n);
// Gradient clipping: entries to [-clip_value, clip_value] (when > 0), then the whole buffer
// scaled to global L2 norm <= clip_norm (when > 0; partials: kSumsqBlocks scratch values).
template <class T>
void clip_gradients(cudaStream_t s, T* g, i64 n, T clip_value, T clip_norm, T* partials);

// Batch rows order[0, nb) of X (d columns), Y (k columns) / labels / weights.
template <class T>
void gather_rows(cudaStream_t s, const std::int64_t* order, i64 nb, const T* X, i64 d, T* Xb, const T* Y, i64 k, T* Yb,
                 const std::int32_t* labels, std::int32_t* labels_b, const T* w, T* wb);
template <class T>
void fill(cudaStream_t s, T* x, i64 n, T value);

// y <- alpha x + beta y (Ops::axpby); alpha 0: x is not read, beta 0: y is not read (BLAS's rule).
template <class T>
void axpby(cudaStream_t s, T alpha, const T* x, T beta, T* y, i64 n);

// Column standardization (a Normalization layer, Ops::standardize): y = (x - mean_j) / s_j, or with
// invert y = x s_j + mean_j, where s_j = sqrt(variance_j), 1 where variance_j is 0. mean null: no
// shift (the backward pass: dx = dy / s_j, invert dy s_j). y may be x.
template <class T>
void standardize(cudaStream_t s, const T* x, i64 m, i64 k, const T* mean, const T* variance, bool invert, T* y);

// An Embedding layer's rows, a ColumnEmbedding's tables (Ops::gather_rows, Ops::scatter_add_rows):
// codes m x k (row stride ldc), integers in [0, V) (the host checked them; a code outside gives a
// NaN row and adds nothing, never a read or write out of bounds). gather: y (m x k d, row stride
// ldy) <- E's rows side by side. scatter_add: out (V x d) += alpha dy's rows (row stride lddy) at
// their codes, by atomic adds (a repeated code's float sum depends on their order).
template <class T>
void embedding_gather(cudaStream_t s, const T* codes, i64 m, i64 k, i64 ldc, const T* E, i64 V, i64 d, T* y, i64 ldy);
template <class T>
void embedding_scatter_add(cudaStream_t s, const T* codes, i64 m, i64 k, i64 ldc, const T* dy, i64 lddy, i64 V, i64 d,
                           T alpha, T* out);

}  // namespace fastmlp::cuda::detail
