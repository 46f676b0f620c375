// GEMM tuned for the shapes of an MLP (row-major, samples as rows); big products split across threads (threads.hpp).
//
//   C (M x N) = alpha * op(A) * op(B) + beta * C
//
// op(A) is M x K: A itself when trans_a is false (stored M x K), A^T when true (stored K x M).
// op(B) is K x N: B itself when trans_b is false (stored K x N), B^T when true (stored N x K).
// Every matrix is row-major; lda/ldb/ldc are row strides in elements (>= the stored row length).
// beta == 0 means C's old contents are never read (they may be NaN or uninitialised).
// C must not overlap A or B. M, N or K may be 0.
//
// The three MLP products (m = batch, d = n_in, k = n_out):
//   forward   Z  (m x k) = X (m x d) * W (d x k)     gemm(false, false, m, k, d, 1, X, d, W, k, 0, Z, k)
//   weights   dW (d x k) = X^T * D (m x k)           gemm(true,  false, d, k, m, 1, X, d, D, k, 0, dW, k)
//     fused SGD step W -= lr * X^T D:                gemm(true,  false, d, k, m, -lr, X, d, D, k, 1, W, k)
//   backprop  dX (m x d) = D (m x k) * W^T           gemm(false, true,  m, d, k, 1, D, k, W, k, 0, dX, d)
//
// Implementation (gemm.cpp): BLIS-style blocking with an AVX-512 or AVX2+FMA micro-kernel; gemm.cpp is
// compiled once per SIMD level and the best one this CPU runs is picked at run time (fastmlp/cpu.hpp,
// cpu_dispatch.cpp); the portable build falls back to Eigen's product. Scratch buffers are
// thread_local, so calls from different threads are safe and no allocation happens after warm-up.
#pragma once

#include "fastmlp/types.hpp"

namespace fastmlp {

template <class T>
void gemm(bool trans_a, bool trans_b, Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb,
          T beta, T* C, Index ldc);

extern template void gemm<float>(bool, bool, Index, Index, Index, float, const float*, Index, const float*, Index,
                                 float, float*, Index);
extern template void gemm<double>(bool, bool, Index, Index, Index, double, const double*, Index, const double*, Index,
                                  double, double*, Index);

// One sample's SGD step through a dense layer in a single pass over W (d x k, row stride ldw):
//   dx[i]   = sum_j W[i][j] y[j]                  (delta_{l-1} = delta_l W^T, from the old W; skipped if dx is null)
//   W[i][j] = s W[i][j] + alpha x[i] y[j]          (s = 1 - rate l2, alpha = -rate: W -= rate (x^T y + l2 W))
// At batch 1 the step is bound by passes over the weights; this does the backprop product and the update
// in one read and one write of W instead of two reads and a write. One thread; the rounding of dx differs
// from gemm's (a different summation order), and is the same for every thread count.
template <class T>
void sgd_rank1(Index d, Index k, T s, T alpha, const T* x, const T* y, T* W, Index ldw, T* dx);

extern template void sgd_rank1<float>(Index, Index, float, float, const float*, const float*, float*, Index, float*);
extern template void sgd_rank1<double>(Index, Index, double, double, const double*, const double*, double*, Index,
                                       double*);

// Whether the rows x cols values of X (row stride ld) are all finite (all_finite, types.hpp). Compiled per
// SIMD level with the GEMM for Network::validate_inputs, whose pass over X on each fit and prediction is
// bound by memory: on an AMD EPYC Zen 5 core, over 16384 x 784 floats from DRAM, level v4 took 1.55-2.13
// ms against 2.09-2.55 for the portable build's 16-byte loads (1.2-1.35x; the pass was 4% of a one-epoch
// fit of the bench net in mixed_bfloat16).
template <class T>
bool rows_finite(const T* X, Index rows, Index cols, Index ld);

extern template bool rows_finite<float>(const float*, Index, Index, Index);
extern template bool rows_finite<double>(const double*, Index, Index, Index);

// The kernel in use (picked at run time): "avx512", "avx2" or "eigen".
const char* gemm_isa();

}  // namespace fastmlp
