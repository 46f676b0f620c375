// gemm.cpp's vector abstraction: the Simd<T> struct of each ISA (AVX-512, AVX2 + FMA) and scalar type.
// Part of gemm.cpp's translation unit: included inside its per-level namespace and its #if FASTMLP_GEMM_ISA,
// after the code it uses; compiled with that level's flags. Include it nowhere else.
#if !defined(FASTMLP_KERNEL_NS) || !defined(FASTMLP_GEMM_ISA) || !FASTMLP_GEMM_ISA
#error "gemm_simd.hpp is part of gemm.cpp: include it only there, inside #if FASTMLP_GEMM_ISA"
#endif

// ---------------------------------------------------------------------------------------------
// Vector abstraction: one struct per (ISA, scalar type). W = lanes; MR x (NVP*W) = packed-path
// micro-tile; MAX_ACC = most accumulator vectors a kernel may hold (leaves room for B and A regs).

template <class T>
struct Simd;

#if FASTMLP_GEMM_ISA == 512
template <>
struct Simd<float> {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int W = 16, MR = 8, NVP = 3, MAX_ACC = 24;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V loadm(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void storem(float* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static Mask mask(int n) { return static_cast<Mask>((1u << n) - 1u); }  // first n lanes, 1..W
  // Interleave the low (high) halves of a and b: a0 b0 a1 b1 ... (used by the transpose).
  static V zip_lo(V a, V b) {
    return _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), b);
  }
  static V zip_hi(V a, V b) {
    return _mm512_permutex2var_ps(a, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31),
                                  b);
  }
};
template <>
struct Simd<double> {
  using V = __m512d;
  using Mask = __mmask8;
  static constexpr int W = 8, MR = 8, NVP = 3, MAX_ACC = 24;
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static V loadm(const double* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  static void storem(double* p, Mask m, V v) { _mm512_mask_storeu_pd(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static Mask mask(int n) { return static_cast<Mask>((1u << n) - 1u); }
  static V zip_lo(V a, V b) { return _mm512_permutex2var_pd(a, _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0), b); }
  static V zip_hi(V a, V b) { return _mm512_permutex2var_pd(a, _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4), b); }
};
#else  // AVX2 + FMA
template <>
struct Simd<float> {
  using V = __m256;
  using Mask = __m256i;
  static constexpr int W = 8, MR = 6, NVP = 2, MAX_ACC = 12;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V loadm(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void storem(float* p, Mask m, V v) { _mm256_maskstore_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static Mask mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V zip_lo(V a, V b) { return _mm256_permute2f128_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b), 0x20); }
  static V zip_hi(V a, V b) { return _mm256_permute2f128_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b), 0x31); }
};
template <>
struct Simd<double> {
  using V = __m256d;
  using Mask = __m256i;
  static constexpr int W = 4, MR = 6, NVP = 2, MAX_ACC = 12;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static V loadm(const double* p, Mask m) { return _mm256_maskload_pd(p, m); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static void storem(double* p, Mask m, V v) { _mm256_maskstore_pd(p, m, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static Mask mask(int n) { return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3)); }
  static V zip_lo(V a, V b) { return _mm256_permute2f128_pd(_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b), 0x20); }
  static V zip_hi(V a, V b) { return _mm256_permute2f128_pd(_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b), 0x31); }
};
#endif
