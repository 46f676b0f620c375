// The C API's one-row kernel (dense_row.hpp): a = g(x W + b) for one row x and a row-major W.
//
// AVX2 + FMA. A layer under 64 KB: the N columns in blocks of up to 12 vectors, each block's running
// sums in registers over all of x; with fewer than 8 vectors in a block, S interleaved sets of sums
// (rows p = s mod S) so that at least 8 FMA chains are in flight (an FMA waits 4 cycles for the one
// before it on its sum). A larger layer: W read as 4 sequential streams (row_avx2). The last vector
// of a row is loaded and stored with a lane mask. g is applied in registers for linear,
// relu, leaky_relu and tanh (float32: Eigen's rational tanh, the formula the batch pass uses, here with
// FMA); other activations are applied to the stored z by the core's activate().
#include "dense_row.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "fastmlp/activations.hpp"
#include "fastmlp/cpu.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTMLP_ROW_AVX2 1
#include <immintrin.h>
#define FASTMLP_AVX2 __attribute__((target("avx2,fma")))
#else
#define FASTMLP_ROW_AVX2 0
#endif

namespace fastmlp::capi {

namespace {

// ---- portable: plain loops (vectorised for the baseline by the compiler), then the core's activate()
template <class T>
void row_portable(const DenseRow<T>& L, const T* x, T* a) {
  std::copy(L.b, L.b + L.N, a);
  for (Index p = 0; p < L.K; ++p) {
    const T xp = x[p];
    const T* w = L.W + p * L.N;
    for (Index j = 0; j < L.N; ++j) a[j] += xp * w[j];
  }
  if (L.g != Activation::Linear) activate<T>(L.g, L.alpha, MatrixMap<T>(a, 1, L.N));
}

#if FASTMLP_ROW_AVX2

// 256-bit vectors of T.
template <class T>
struct Avx;

template <>
struct Avx<float> {
  using V = __m256;
  static constexpr int W = 8;
  FASTMLP_AVX2 static V zero() { return _mm256_setzero_ps(); }
  FASTMLP_AVX2 static V set1(float v) { return _mm256_set1_ps(v); }
  FASTMLP_AVX2 static __m256i mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  FASTMLP_AVX2 static V load(const float* p) { return _mm256_loadu_ps(p); }
  FASTMLP_AVX2 static V loadm(const float* p, __m256i m) { return _mm256_maskload_ps(p, m); }
  FASTMLP_AVX2 static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  FASTMLP_AVX2 static void storem(float* p, __m256i m, V v) { _mm256_maskstore_ps(p, m, v); }
  FASTMLP_AVX2 static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  FASTMLP_AVX2 static V add(V a, V b) { return _mm256_add_ps(a, b); }
  FASTMLP_AVX2 static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  FASTMLP_AVX2 static V max(V a, V b) { return _mm256_max_ps(a, b); }
  FASTMLP_AVX2 static V positive_or(V z, V other) {  // z where z > 0, else other
    return _mm256_blendv_ps(other, z, _mm256_cmp_ps(z, zero(), _CMP_GT_OQ));
  }
  // Eigen 3.4's generic_fast_tanh_float (its FMA variant: the clamp at 7.9988...).
  FASTMLP_AVX2 static V tanh(V a) {
    const V x = _mm256_max_ps(_mm256_min_ps(a, set1(7.99881172180175781f)), set1(-7.99881172180175781f));
    const V tiny = _mm256_cmp_ps(_mm256_andnot_ps(set1(-0.0f), a), set1(0.0004f), _CMP_LT_OQ);
    const V x2 = _mm256_mul_ps(x, x);
    V p = fma(x2, set1(-2.76076847742355e-16f), set1(2.00018790482477e-13f));
    p = fma(x2, p, set1(-8.60467152213735e-11f));
    p = fma(x2, p, set1(5.12229709037114e-08f));
    p = fma(x2, p, set1(1.48572235717979e-05f));
    p = fma(x2, p, set1(6.37261928875436e-04f));
    p = fma(x2, p, set1(4.89352455891786e-03f));
    p = _mm256_mul_ps(x, p);
    V q = fma(x2, set1(1.19825839466702e-06f), set1(1.18534705686654e-04f));
    q = fma(x2, q, set1(2.26843463243900e-03f));
    q = fma(x2, q, set1(4.89352518554385e-03f));
    return _mm256_blendv_ps(_mm256_div_ps(p, q), x, tiny);
  }
};

template <>
struct Avx<double> {
  using V = __m256d;
  static constexpr int W = 4;
  FASTMLP_AVX2 static V zero() { return _mm256_setzero_pd(); }
  FASTMLP_AVX2 static V set1(double v) { return _mm256_set1_pd(v); }
  FASTMLP_AVX2 static __m256i mask(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  FASTMLP_AVX2 static V load(const double* p) { return _mm256_loadu_pd(p); }
  FASTMLP_AVX2 static V loadm(const double* p, __m256i m) { return _mm256_maskload_pd(p, m); }
  FASTMLP_AVX2 static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  FASTMLP_AVX2 static void storem(double* p, __m256i m, V v) { _mm256_maskstore_pd(p, m, v); }
  FASTMLP_AVX2 static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  FASTMLP_AVX2 static V add(V a, V b) { return _mm256_add_pd(a, b); }
  FASTMLP_AVX2 static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  FASTMLP_AVX2 static V max(V a, V b) { return _mm256_max_pd(a, b); }
  FASTMLP_AVX2 static V positive_or(V z, V other) {
    return _mm256_blendv_pd(other, z, _mm256_cmp_pd(z, zero(), _CMP_GT_OQ));
  }
};

// The activations applied in registers (float32 tanh only: float64's is std::tanh, applied after).
template <class T>
bool fused(Activation g) {
  return g == Activation::Linear || g == Activation::Relu || g == Activation::LeakyRelu ||
         (g == Activation::Tanh && sizeof(T) == 4);
}

// z -> g(z) in registers for the fused activations (others: unchanged here).
template <class T>
FASTMLP_AVX2 typename Avx<T>::V g_fused(const DenseRow<T>& L, typename Avx<T>::V z) {
  using A = Avx<T>;
  if (L.g == Activation::Relu) return A::max(z, A::zero());
  if (L.g == Activation::LeakyRelu) return A::positive_or(z, A::mul(A::set1(L.alpha), z));
  if constexpr (sizeof(T) == 4)
    if (L.g == Activation::Tanh) return A::tanh(z);
  return z;
}

// The S sets of sums for a block of NV vectors: at least 8 FMA chains, at most 14 accumulators.
constexpr int sets_for(int nv) { return nv >= 8 ? 1 : nv >= 4 ? 2 : (8 + nv - 1) / nv; }
constexpr int kMaxVectors = 12;  // a block's width in registers (14 of the 16 hold sums at most)
constexpr int kStreams = 4;      // sequential streams through a large layer's W

// Columns j0 .. j0 + NV W of a = g(x W + b), the sums over all K rows in registers (the last vector
// with `tail` lanes when MASK).
template <class T, int NV, bool MASK>
FASTMLP_AVX2 void block(const DenseRow<T>& L, const T* x, Index j0, int tail, T* a) {
  using A = Avx<T>;
  using V = typename A::V;
  constexpr int W = A::W, S = sets_for(NV);
  const __m256i m = A::mask(tail);
  const Index ld = L.N;
  const T* w = L.W + j0;
  V acc[S][NV];
#pragma GCC unroll 16
  for (int s = 0; s < S; ++s)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[s][v] = A::zero();
  Index p = 0;
  for (; p + S <= L.K; p += S, w += S * ld) {
#pragma GCC unroll 16
    for (int s = 0; s < S; ++s) {
      const V xs = A::set1(x[p + s]);
      const T* row = w + s * ld;
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v)
        acc[s][v] = A::fma(xs, MASK && v == NV - 1 ? A::loadm(row + v * W, m) : A::load(row + v * W), acc[s][v]);
    }
  }
  for (; p < L.K; ++p, w += ld) {
    const V xs = A::set1(x[p]);
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v)
      acc[0][v] = A::fma(xs, MASK && v == NV - 1 ? A::loadm(w + v * W, m) : A::load(w + v * W), acc[0][v]);
  }
  const T* b = L.b + j0;
  T* out = a + j0;
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) {
    V z = MASK && v == NV - 1 ? A::loadm(b + v * W, m) : A::load(b + v * W);
#pragma GCC unroll 16
    for (int s = 0; s < S; ++s) z = A::add(z, acc[s][v]);
    z = g_fused(L, z);
    if (MASK && v == NV - 1)
      A::storem(out + v * W, m, z);
    else
      A::store(out + v * W, z);
  }
}

// a += x[p_s] W[p_s, :] summed over the S rows p_s = p + s q: the next row of each of S sequential
// streams through W (S quarters of it), the sums of a in L1 between steps.
template <class T, int S>
FASTMLP_AVX2 void rows_step(const DenseRow<T>& L, const T* x, Index p, Index q, T* __restrict a) {
  using A = Avx<T>;
  using V = typename A::V;
  constexpr int W = A::W;
  const Index N = L.N;  // locals: the stores to a cannot change them
  V xs[S];
  const T* w[S];
#pragma GCC unroll 8
  for (int s = 0; s < S; ++s) xs[s] = A::set1(x[p + s * q]), w[s] = L.W + (p + s * q) * N;
  Index j = 0;
  for (; j + W <= N; j += W) {
    V acc = A::load(a + j);
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s) acc = A::fma(xs[s], A::load(w[s] + j), acc);
    A::store(a + j, acc);
  }
  if (j < N) {
    const __m256i m = A::mask(int(N - j));
    V acc = A::loadm(a + j, m);
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s) acc = A::fma(xs[s], A::loadm(w[s] + j, m), acc);
    A::storem(a + j, m, acc);
  }
}

template <class T>
using Block = void (*)(const DenseRow<T>&, const T*, Index, int, T*);

template <class T, int... I>
constexpr std::array<Block<T>, sizeof...(I)> block_table(std::integer_sequence<int, I...>) {
  return {&block<T, I / 2 + 1, I % 2 == 1>...};  // [2 (nv - 1) + masked]
}

// The N columns as blocks of at most `most` vectors, of equal widths to a vector: f(first vector,
// vectors, lanes of the last).
template <class T, class F>
FASTMLP_AVX2 void column_blocks(Index N, int most, F&& f) {
  constexpr int W = Avx<T>::W;
  const Index vectors = (N + W - 1) / W, blocks = (vectors + most - 1) / most;
  for (Index k = 0, v0 = 0; k < blocks; ++k) {
    const Index v1 = vectors * (k + 1) / blocks;
    f(v0, v1 - v0, k == blocks - 1 ? int(N - (v1 - 1) * W) : W);
    v0 = v1;
  }
}

// A layer whose W is larger than L1 (64 KB and more) streams from L2 or L3: read as 4 sequential
// streams, one through each quarter of its rows, a row of each per step, the sums in `a` (in L1) between
// steps. A smaller one keeps its sums in registers over the whole of W. (The three layers of
// 784-256-128-10, pinned Zen 3, medians of 20,000 calls, two runs: 4 streams 14.2-14.4 us, 4 rows in
// memory order 17.2-19.4, Eigen's GEMV order (blocks of 64 columns over 16 rows, what RTNeural runs)
// 20.8-21.4; reading the 938 KB alone as 4 streams 12.2-12.7.)
template <class T>
FASTMLP_AVX2 void row_avx2(const DenseRow<T>& L, const T* x, T* a) {
  using A = Avx<T>;
  constexpr int W = A::W;
  if (L.K * L.N * Index(sizeof(T)) < (Index(64) << 10)) {
    static constexpr auto table = block_table<T>(std::make_integer_sequence<int, 2 * kMaxVectors>{});
    column_blocks<T>(L.N, kMaxVectors, [&](Index v0, Index nv, int tail) {
      table[std::size_t(2 * (nv - 1) + (tail < W))](L, x, v0 * W, tail, a);
    });
    if (!fused<T>(L.g)) activate<T>(L.g, L.alpha, MatrixMap<T>(a, 1, L.N));
    return;
  }
  std::copy(L.b, L.b + L.N, a);
  const Index q = L.K / kStreams;
  for (Index p = 0; p < q; ++p) rows_step<T, kStreams>(L, x, p, q, a);
  for (Index p = kStreams * q; p < L.K; ++p) rows_step<T, 1>(L, x, p, 0, a);
  if (!fused<T>(L.g)) {
    activate<T>(L.g, L.alpha, MatrixMap<T>(a, 1, L.N));
  } else if (L.g != Activation::Linear) {
    Index j = 0;
    for (; j + W <= L.N; j += W) A::store(a + j, g_fused(L, A::load(a + j)));
    if (j < L.N) A::storem(a + j, A::mask(int(L.N - j)), g_fused(L, A::loadm(a + j, A::mask(int(L.N - j)))));
  }
}

#endif  // FASTMLP_ROW_AVX2

}  // namespace

template <class T>
DenseRowKernel<T> dense_row_kernel() {
#if FASTMLP_ROW_AVX2
  const std::string level = simd_level();  // the GEMM's choice, FASTMLP_ARCH included
  if ((level == "v3" || level == "v4") && cpu_runs_level("v3")) return &row_avx2<T>;
#endif
  return &row_portable<T>;
}

template DenseRowKernel<float> dense_row_kernel<float>();
template DenseRowKernel<double> dense_row_kernel<double>();

}  // namespace fastmlp::capi
