// gemm.cpp's small-M paths: gemm_direct and gemv_narrow (op(B) = B), dot_tile and gemm_dot (op(B) = B^T).
// Part of gemm.cpp's translation unit: included inside its per-level namespace and its #if FASTMLP_GEMM_ISA,
// after the code it uses; compiled with that level's flags. Include it nowhere else.
#if !defined(FASTMLP_KERNEL_NS) || !defined(FASTMLP_GEMM_ISA) || !FASTMLP_GEMM_ISA
#error "gemm_small.hpp is part of gemm.cpp: include it only there, inside #if FASTMLP_GEMM_ISA"
#endif

// ---------------------------------------------------------------------------------------------
// Small M, op(B) = B: no packing at all. Kernel runs over the whole K with B rows read in place.
template <class T>
void gemm_direct(bool ta, Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb, T beta,
                 T* C, Index ldc) {
  constexpr int W = Simd<T>::W;
  int mrs, nvs;
  DirectKernels<T>::tile(M, mrs, nvs);
  const int am = ta ? A_COLS : A_ROWS;
  const T ab[2] = {alpha, beta};
  for (Index j = 0; j < N; j += Index(nvs) * W) {
    const int nb = static_cast<int>(std::min<Index>(Index(nvs) * W, N - j));
    const int nv = (nb + W - 1) / W, tail = nb - (nv - 1) * W;
    const Index tiles = (M + mrs - 1) / mrs;  // equal heights, as in gemm_blocked
    for (Index t = 0, i = 0; t < tiles; ++t) {
      const Index i1 = M * (t + 1) / tiles;
      const T* a = ta ? A + i : A + i * lda;
      DirectKernels<T>::get(am, static_cast<int>(i1 - i), nv)(K, a, lda, B + j, ldb, C + i * ldc + j, ldc, ab, tail, 0);
      i = i1;
    }
  }
}

// Small M, op(B) = B, N <= W (one vector of columns: a classifier's 10 outputs, a regressor's 1):
// gemm_direct's tile would hold M accumulators, each k step waiting for the previous FMA (4 cycles;
// 0.9 us for K = 784, N = 1). Four accumulators per row, over k = 4q, 4q+1, 4q+2, 4q+3, summed at the
// end, hide that latency. Chosen in gemm() from the whole product's N; one vector of columns is never
// split across threads, so every thread count still gives the same bits.
template <class T>
void gemv_narrow(bool ta, Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb, T beta,
                 T* C, Index ldc) {
  using S = Simd<T>;
  using V = typename S::V;
  const auto m = S::mask(static_cast<int>(N));
  for (Index i = 0; i < M; ++i) {
    const auto a = [&](Index p) { return S::set1(ta ? A[p * lda + i] : A[i * lda + p]); };
    V acc[4] = {S::zero(), S::zero(), S::zero(), S::zero()};
    Index p = 0;
    for (; p + 4 <= K; p += 4)
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) acc[q] = S::fma(a(p + q), S::loadm(B + (p + q) * ldb, m), acc[q]);
    for (int q = 0; p < K; ++p, ++q) acc[q] = S::fma(a(p), S::loadm(B + p * ldb, m), acc[q]);
    const V r = S::add(S::add(acc[0], acc[1]), S::add(acc[2], acc[3]));
    T* c = C + i * ldc;
    const V va = S::set1(alpha);
    const V out = beta == T(0)   ? S::mul(va, r)
                  : beta == T(1) ? S::fma(va, r, S::loadm(c, m))
                                 : S::fma(va, r, S::mul(S::set1(beta), S::loadm(c, m)));
    S::storem(c, m, out);
  }
}

// Small M, op(B) = B^T (B stored N x K): C[i][j] = dot(A row i, B row j), both contiguous in K
// (only called with op(A) = A). A tile of MI rows of A x NJ rows of B keeps MI*NJ = W vector
// partial sums; at the end they are reduced together in log2(W) "zip and add" rounds (the same
// bit rotation as in transpose_block), which leaves sum number L in lane L.
template <class T, int MI, int NJ>
void dot_tile(Index K, const T* A, Index lda, const T* B, Index ldb, int nj, T alpha, T beta, T* C, Index ldc) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  static_assert(MI * NJ == W, "one accumulator per lane of the reduced vector");
  V acc[W];
#pragma GCC unroll 16
  for (int t = 0; t < W; ++t) acc[t] = S::zero();
  const T* br[NJ];
#pragma GCC unroll 16
  for (int j = 0; j < NJ; ++j) br[j] = B + std::min(j, nj - 1) * ldb;  // rows >= nj: dummies
  auto step = [&](Index p, auto load) {
    V bv[NJ];
#pragma GCC unroll 16
    for (int j = 0; j < NJ; ++j) bv[j] = load(br[j] + p);
#pragma GCC unroll 16
    for (int i = 0; i < MI; ++i) {
      const V av = load(A + i * lda + p);
#pragma GCC unroll 16
      for (int j = 0; j < NJ; ++j) acc[i * NJ + j] = S::fma(av, bv[j], acc[i * NJ + j]);
    }
  };
  Index p = 0;
  for (; p + W <= K; p += W) step(p, [](const T* x) { return S::load(x); });
  if (p < K) {
    const auto m = S::mask(static_cast<int>(K - p));
    step(p, [m](const T* x) { return S::loadm(x, m); });
  }
  // Reduce W vectors to one: after the round with n -> n/2 vectors, lane bit 0 selects between
  // accumulators t and t + n/2; after log2(W) rounds lane L holds the full sum of acc[L].
#pragma GCC unroll 8
  for (int n = W; n > 1; n /= 2)
#pragma GCC unroll 16
    for (int t = 0; t < n / 2; ++t)
      acc[t] = S::add(S::zip_lo(acc[t], acc[t + n / 2]), S::zip_hi(acc[t], acc[t + n / 2]));
  alignas(64) T sums[W];
  S::store(sums, acc[0]);
  for (int i = 0; i < MI; ++i)
    for (int j = 0; j < nj; ++j) {
      const T r = alpha * sums[i * NJ + j];
      T& c = C[i * ldc + j];
      c = beta == T(0) ? r : r + beta * c;
    }
}

template <class T>
void gemm_dot(Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb, T beta, T* C,
              Index ldc) {
  constexpr int W = Simd<T>::W;
  Index i = 0;
  for (; i + 2 <= M; i += 2)  // two rows of A x W/2 rows of B
    for (Index j = 0; j < N; j += W / 2)
      dot_tile<T, 2, W / 2>(K, A + i * lda, lda, B + j * ldb, ldb, static_cast<int>(std::min<Index>(W / 2, N - j)),
                            alpha, beta, C + i * ldc + j, ldc);
  if (i < M)  // last row x W rows of B
    for (Index j = 0; j < N; j += W)
      dot_tile<T, 1, W>(K, A + i * lda, lda, B + j * ldb, ldb, static_cast<int>(std::min<Index>(W, N - j)), alpha, beta,
                        C + i * ldc + j, ldc);
}
