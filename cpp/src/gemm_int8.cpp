// The int8 kernels of fastmlp/gemm_int8.hpp for one SIMD level: the activations' quantization and
// the packed u8 x s8 -> int32 product with its dequantizing epilogue. Compiled once per level
// (CMakeLists.txt: the portable build, -march=x86-64-v3 for AVX2, and with -mavxvnni /
// -mavx512vnni for the VNNI builds), each into its own namespace; int8.cpp picks one at run time.
//
// Nothing here allocates or instantiates a library template that the linker could share with the
// portable core (the scratch comes from int8.cpp); every function is in this build's namespace.
//
// The micro-kernel holds an MR x 16 tile of int32 sums (MR <= 4 rows, two 8-column vectors) and
// walks the inputs 4 at a time: one 32-bit broadcast of a row's 4 u8 activations against a
// packed vector of [8 columns][4 inputs] s8 weights gives 8 int32 sums of 4 products each —
// vpdpbusd in one instruction, or vpmaddubsw (pairs into int16, never saturating with 7-bit weights: see the header)
// then vpmaddwd with ones (pairs of pairs into int32) on AVX2. On a Zen 3 core the 4 x 16 tile runs
// at the two multiply pipes' limit (2 multiplies per 32 products: ~99 GMAC/s); what is left around it
// is kept small: the activations' quantization packs 32 at a time, ReLU is fused into the epilogue,
// and fewer than 4 rows (one sample) take 1 x 64 tiles that stream the weights from L2 once.
// A chain of layers (int8_chain) runs each block of 64 rows through all of them, so the hidden
// activations stay in L2, and prefetches the next block of the first layer's inputs during the
// block's tiles (perf, bench net at batch 10,000 on a Zen 3 core: the rows' quantization 11.7% of
// the time before, 6.5% after; the kernels alone 1.05-1.07x the batch throughput, the same bits).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "fastmlp/gemm_int8.hpp"

// FASTMLP_INT8_ISA may come from outside: tests/emulated/int8.cpp builds the VNNI paths with SIMDe's
// emulation of vpdpbusd on an AVX2 CPU.
#if defined(FASTMLP_INT8_ISA)
#elif defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define FASTMLP_INT8_ISA 3
#elif defined(__AVXVNNI__)
#define FASTMLP_INT8_ISA 2
#elif defined(__AVX2__)
#define FASTMLP_INT8_ISA 1
#else
#define FASTMLP_INT8_ISA 0
#endif

#if FASTMLP_INT8_ISA
#include <immintrin.h>
#endif

#ifndef FASTMLP_KERNEL_NS
#error "FASTMLP_KERNEL_NS must name this build's namespace (CMakeLists.txt passes it)"
#endif

namespace fastmlp {
namespace FASTMLP_KERNEL_NS {
namespace {

constexpr Index MR = 4;  // rows per tile

inline std::uint8_t quantize_one(float x, float inv, std::int32_t zp) {
  const std::int32_t q = std::int32_t(std::nearbyint(x * inv)) + zp;
  return std::uint8_t(std::min(std::max(q, 0), kInt8ActMax));
}

// The epilogue of the products: int32 sums (C) or z = float(acc - zp colsum) (s_r s_j) + b_j (Z).
struct Epilogue {
  const Int8Weights& W;
  std::int32_t* C;
  Index ldc;
  const float* sx;
  const std::int32_t* zp;
  const float* b;
  float* Z;
  Index ldz;
  bool relu;  // z = max(z, 0) after the bias (as Eigen's max(0): -0 and NaN kept)
#if FASTMLP_INT8_ISA
  void row(Index r, Index j0, Index n, __m256i acc0, __m256i acc1) const;  // one row of a tile (below)
#endif
};

// The next block's inputs, brought into cache a few lines at a time while this block's products
// run: the first layer's rows come from memory (the batch: 31 MB), and its min/max pass would
// otherwise wait on them (the tiles hide the loads; the pass finds them in L2).
struct Prefetch {
  const float* x = nullptr;  // rows x d floats, row stride ldx; null: nothing to fetch
  Index rows = 0, d = 0, ldx = 0;
  Index r = 0, i = 0;  // the next line: row r, from x[r][i]
  Index lines() const { return x ? rows * ((d + 15) / 16) : 0; }
  void step(Index n) {
#if FASTMLP_INT8_ISA
    Index rr = r, ii = i;  // in registers (members would go through memory each line)
    for (; n > 0 && rr < rows; --n) {
      _mm_prefetch(reinterpret_cast<const char*>(x + rr * ldx + ii), _MM_HINT_T1);
      if ((ii += 16) >= d) ii = 0, ++rr;
    }
    r = rr, i = ii;
#else
    (void)n;
#endif
  }
};

#if FASTMLP_INT8_ISA
inline __m256i dot4(__m256i acc, __m256i a, __m256i b) {
#if FASTMLP_INT8_ISA == 3
  return _mm256_dpbusd_epi32(acc, a, b);
#elif FASTMLP_INT8_ISA == 2
  return _mm256_dpbusd_avx_epi32(acc, a, b);
#else
  const __m256i pairs = _mm256_maddubs_epi16(a, b);  // |pair| <= 2 255 63 = 32130: exact
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
#endif
}

__attribute__((always_inline)) inline void Epilogue::row(Index r, Index j0, Index n, __m256i acc0, __m256i acc1) const {
  alignas(32) std::int32_t ci[16];
  alignas(32) float zf[16];
  if (!Z) {
    if (n == 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(C + r * ldc + j0), acc0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(C + r * ldc + j0 + 8), acc1);
      return;
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(ci), acc0);
    _mm256_store_si256(reinterpret_cast<__m256i*>(ci + 8), acc1);
    std::memcpy(C + r * ldc + j0, ci, std::size_t(n) * 4);
    return;
  }
  const __m256i z = _mm256_set1_epi32(zp[r]);
  const __m256 s = _mm256_set1_ps(sx[r]);
  __m256 f[2];
  const __m256i acc[2] = {acc0, acc1};
  for (int h = 0; h < 2; ++h) {
    const __m256i cs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(W.col_sums.data() + j0 + 8 * h));
    const __m256 sw = _mm256_loadu_ps(W.scale.data() + j0 + 8 * h);
    const __m256i v = _mm256_sub_epi32(acc[h], _mm256_mullo_epi32(z, cs));
    f[h] = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_mul_ps(s, sw));
  }
  if (n == 16) {
    float* out = Z + r * ldz + j0;
    for (int h = 0; h < 2; ++h) {
      __m256 v = b ? _mm256_add_ps(f[h], _mm256_loadu_ps(b + j0 + 8 * h)) : f[h];
      if (relu) v = _mm256_max_ps(_mm256_setzero_ps(), v);
      _mm256_storeu_ps(out + 8 * h, v);
    }
    return;
  }
  _mm256_store_ps(zf, f[0]);
  _mm256_store_ps(zf + 8, f[1]);
  for (Index j = 0; j < n; ++j) {
    const float v = b ? zf[j] + b[j0 + j] : zf[j];
    Z[r * ldz + j0 + j] = relu && v < 0.0f ? 0.0f : v;
  }
}

// An R x 16P tile: R rows (of Q from r0) against P consecutive panels (16 columns each, from j0),
// 2P vectors of 8 int32 sums per row. P > 1 is for few rows (one sample: the weights stream once
// from L2, 2P loads in flight per step where a 1 x 16 tile waits on its two; P = 4 measured best on
// a Zen 3 core, 784 x 256 at m = 1: 2.5 us against 2.9 for P = 1, software prefetch no help).
template <int R, int P>
inline void tile(const std::uint8_t* Q, Index ldq, const std::int8_t* B, Index groups, Index r0, Index j0,
                 const Epilogue& e) {
  const Index panel = kInt8Panel * e.W.d4;  // bytes from one panel to the next
  __m256i acc[R][2 * P];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 2 * P; ++v) acc[r][v] = _mm256_setzero_si256();
  const std::uint8_t* q = Q + r0 * ldq;
  for (Index g = 0; g < groups; ++g) {
    __m256i b[2 * P];
    for (int p = 0; p < P; ++p) {
      const std::int8_t* src = B + p * panel + 64 * g;
      b[2 * p] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
      b[2 * p + 1] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32));
    }
    for (int r = 0; r < R; ++r) {
      std::int32_t a4;
      std::memcpy(&a4, q + r * ldq + 4 * g, 4);
      const __m256i a = _mm256_set1_epi32(a4);
      for (int v = 0; v < 2 * P; ++v) acc[r][v] = dot4(acc[r][v], a, b[v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int p = 0; p < P; ++p)
      e.row(r0 + r, j0 + kInt8Panel * p, std::min(kInt8Panel, e.W.k - j0 - kInt8Panel * p), acc[r][2 * p],
            acc[r][2 * p + 1]);
}

// The 4 x 16 tile of the batch path, as tile<4, 1> with its sums in named variables: GCC keeps an
// array of them on the stack (a store and 8 register copies per step), these stay in registers.
inline void tile4(const std::uint8_t* Q, Index ldq, const std::int8_t* B, Index groups, Index r0, Index j0,
                  const Epilogue& e) {
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const std::uint8_t* q = Q + r0 * ldq;
  for (Index g = 0; g < groups; ++g) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(B + 64 * g));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(B + 64 * g + 32));
    std::int32_t a4[4];
    for (int r = 0; r < 4; ++r) std::memcpy(&a4[r], q + r * ldq + 4 * g, 4);
    __m256i a = _mm256_set1_epi32(a4[0]);
    c00 = dot4(c00, a, b0), c01 = dot4(c01, a, b1);
    a = _mm256_set1_epi32(a4[1]);
    c10 = dot4(c10, a, b0), c11 = dot4(c11, a, b1);
    a = _mm256_set1_epi32(a4[2]);
    c20 = dot4(c20, a, b0), c21 = dot4(c21, a, b1);
    a = _mm256_set1_epi32(a4[3]);
    c30 = dot4(c30, a, b0), c31 = dot4(c31, a, b1);
  }
  const Index n = std::min(kInt8Panel, e.W.k - j0);
  e.row(r0, j0, n, c00, c01), e.row(r0 + 1, j0, n, c10, c11);
  e.row(r0 + 2, j0, n, c20, c21), e.row(r0 + 3, j0, n, c30, c31);
}

#if FASTMLP_INT8_ISA == 3
// vpdpbusd on zmm (a: u8, b: s8). GCC 12 moves the intrinsic's accumulators of an array through other
// registers and the stack each step (perf: the tile ran at 0.84x onnxruntime's, against 0.90x for the
// 256-bit one); the instruction in asm keeps each in its register. SIMDe's emulation (tests/emulated)
// has no AVX-512 target: it takes the intrinsic.
inline __m512i dot4_zmm(__m512i acc, __m512i a, __m512i b) {
#if defined(__AVX512VNNI__)
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
#else
  return _mm512_dpbusd_epi32(acc, a, b);
#endif
}

// AVX512-VNNI: an R x 16 NV tile of zmm sums (R <= 8 rows, NV <= 3 panels: 24 accumulators), one
// vpdpbusd per 16 columns x 4 inputs, the packed layout read 64 bytes (a panel's group) at a time. The
// 256-bit tiles above run half as many products per instruction; a Zen 5 core's 512-bit units take
// these at the same rate. The epilogue is Epilogue::row on each half: the same bits as the other builds.
template <int R, int NV>
inline void tile_zmm(const std::uint8_t* Q, Index ldq, const std::int8_t* B, Index groups, Index r0, Index j0,
                     const Epilogue& e) {
  const Index panel = kInt8Panel * e.W.d4;  // bytes from one panel to the next
  __m512i acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  const std::uint8_t* q = Q + r0 * ldq;
  for (Index g = 0; g < groups; ++g) {
    __m512i b[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_si512(static_cast<const void*>(B + v * panel + 64 * g));
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      std::int32_t a4;
      std::memcpy(&a4, q + r * ldq + 4 * g, 4);
      const __m512i a = _mm512_set1_epi32(a4);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = dot4_zmm(acc[r][v], a, b[v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) {
      const Index j = j0 + kInt8Panel * v;
      e.row(r0 + r, j, std::min(kInt8Panel, e.W.k - j), _mm512_castsi512_si256(acc[r][v]),
            _mm512_extracti64x4_epi64(acc[r][v], 1));
    }
}

// Rows [0, m8) (a multiple of 8) against every panel, 3 panels at a time (the last four as 2 + 2);
// each group of panels stays in L1 across the rows.
void zmm_rows(const std::uint8_t* Q, Index m8, Index ldq, const Epilogue& e, Prefetch& pf) {
  const Int8Weights& W = e.W;
  const Index groups = W.d4 / 4, panels = (W.k + kInt8Panel - 1) / kInt8Panel;
  const Index tiles = (m8 / 8) * ((panels + 2) / 3);        // also with the 2 + 2 ending: ceil(panels / 3) per row
  const Index per_tile = (pf.lines() + tiles - 1) / tiles;  // m8 > 0: tiles > 0
  for (Index p = 0, nv; p < panels; p += nv) {
    nv = panels - p == 4 ? 2 : std::min<Index>(3, panels - p);
    const std::int8_t* B = W.packed.data() + p * kInt8Panel * W.d4;
    for (Index r0 = 0; r0 < m8; r0 += 8) {
      if (nv == 3)
        tile_zmm<8, 3>(Q, ldq, B, groups, r0, p * kInt8Panel, e);
      else if (nv == 2)
        tile_zmm<8, 2>(Q, ldq, B, groups, r0, p * kInt8Panel, e);
      else
        tile_zmm<8, 1>(Q, ldq, B, groups, r0, p * kInt8Panel, e);
      pf.step(per_tile);
    }
  }
}
#endif

// Rows r0.. (fewer than MR) against every panel, P panels at a time.
template <int R, int P>
void few_rows(const std::uint8_t* Q, Index ldq, Index r0, const Epilogue& e) {
  const Int8Weights& W = e.W;
  const Index groups = W.d4 / 4;
  Index j0 = 0;
  for (; j0 + kInt8Panel * (P - 1) < W.k; j0 += kInt8Panel * P)
    tile<R, P>(Q, ldq, W.packed.data() + j0 * W.d4, groups, r0, j0, e);
  for (; j0 < W.k; j0 += kInt8Panel) tile<R, 1>(Q, ldq, W.packed.data() + j0 * W.d4, groups, r0, j0, e);
}

void gemm_rows(const std::uint8_t* Q, Index m, Index ldq, const Epilogue& e, Prefetch& pf) {
  const Int8Weights& W = e.W;
  Index first = 0;  // rows before it done by zmm_rows
#if FASTMLP_INT8_ISA == 3
  first = m / 8 * 8;
  if (first > 0) zmm_rows(Q, first, ldq, e, pf);
#endif
  const Index groups = W.d4 / 4, full = first + (m - first) / MR * MR;
  const Index tiles = (W.k + kInt8Panel - 1) / kInt8Panel * ((full - first) / MR);
  const Index per_tile = tiles > 0 ? (pf.lines() + tiles - 1) / tiles : 0;  // spread over the tiles
  if (full > first)
    for (Index j0 = 0; j0 < W.k; j0 += kInt8Panel) {
      const std::int8_t* B = W.packed.data() + j0 * W.d4;  // this panel: 16 x d4 bytes
      for (Index r0 = first; r0 < full; r0 += MR) {
        tile4(Q, ldq, B, groups, r0, j0, e);
        pf.step(per_tile);
      }
    }
  switch (m - full) {
    case 3: few_rows<3, 1>(Q, ldq, full, e); break;
    case 2: few_rows<2, 2>(Q, ldq, full, e); break;
    case 1: few_rows<1, 4>(Q, ldq, full, e); break;
    default: break;
  }
}
#else
// Portable: the same sums over the same packed layout, one column at a time.
void gemm_rows(const std::uint8_t* Q, Index m, Index ldq, const Epilogue& e, Prefetch&) {
  const Int8Weights& W = e.W;
  for (Index r = 0; r < m; ++r)
    for (Index j = 0; j < W.k; ++j) {
      const std::int8_t* B = W.packed.data() + (j / kInt8Panel) * kInt8Panel * W.d4 + (j % kInt8Panel) * 4;
      std::int32_t acc = 0;
      for (Index g = 0; g < W.d4 / 4; ++g)
        for (Index t = 0; t < 4; ++t) acc += std::int32_t(Q[r * ldq + 4 * g + t]) * B[64 * g + t];
      if (!e.Z) {
        e.C[r * e.ldc + j] = acc;
        continue;
      }
      const float f = float(acc - e.zp[r] * W.col_sums[std::size_t(j)]) * (e.sx[r] * W.scale[std::size_t(j)]);
      const float v = e.b ? f + e.b[j] : f;
      e.Z[r * e.ldz + j] = e.relu && v < 0.0f ? 0.0f : v;
    }
}
#endif

}  // namespace

bool quantize_rows(const float* X, Index m, Index d, Index ldx, std::uint8_t* Q, Index ldq, float* s,
                   std::int32_t* zp) {
  bool all_finite = true;
  for (Index r = 0; r < m; ++r) {
    const float* x = X + r * ldx;
    std::uint8_t* q = Q + r * ldq;
    float lo = 0.0f, hi = 0.0f;
    bool finite = true;  // along the min/max pass: min/max drop a NaN (by operand order), so x 0 is summed
    Index i = 0;
#if FASTMLP_INT8_ISA
    // nan0 sums x 0 (one FMA per vector): +-0 while every x is finite, NaN after a NaN or an infinity.
    __m256 vlo = _mm256_setzero_ps(), vhi = vlo, vlo2 = vlo, vhi2 = vlo, nan0 = vlo, nan02 = vlo;
    const __m256 zero = vlo;
    for (; i + 16 <= d; i += 16) {
      const __m256 v = _mm256_loadu_ps(x + i), v2 = _mm256_loadu_ps(x + i + 8);
      vlo = _mm256_min_ps(vlo, v), vhi = _mm256_max_ps(vhi, v);
      vlo2 = _mm256_min_ps(vlo2, v2), vhi2 = _mm256_max_ps(vhi2, v2);
      nan0 = _mm256_fmadd_ps(v, zero, nan0), nan02 = _mm256_fmadd_ps(v2, zero, nan02);
    }
    vlo = _mm256_min_ps(vlo, vlo2), vhi = _mm256_max_ps(vhi, vhi2), nan0 = _mm256_add_ps(nan0, nan02);
    for (; i + 8 <= d; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      vlo = _mm256_min_ps(vlo, v), vhi = _mm256_max_ps(vhi, v);
      nan0 = _mm256_fmadd_ps(v, zero, nan0);
    }
    finite = _mm256_movemask_ps(_mm256_cmp_ps(nan0, nan0, _CMP_UNORD_Q)) == 0;
    alignas(32) float l8[8], h8[8];
    _mm256_store_ps(l8, vlo), _mm256_store_ps(h8, vhi);
    for (int t = 0; t < 8; ++t) lo = std::min(lo, l8[t]), hi = std::max(hi, h8[t]);
#endif
    for (; i < d; ++i) {
      lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
      finite = finite && std::fabs(x[i]) <= 3.40282347e+38f;  // false for NaN and +-inf
    }
    if (!finite) {  // s = NaN: the row's outputs are NaN, as float arithmetic gives (the caller may throw)
      s[r] = std::numeric_limits<float>::quiet_NaN(), zp[r] = 0;
      std::memset(q, 0, std::size_t(ldq));
      all_finite = false;
      continue;
    }
    const float scale = (hi - lo) / float(kInt8ActMax);
    if (!(scale >= 1.17549435e-38f)) {  // a row of zeros (or of subnormal numbers): all q = zp = 0
      s[r] = 1.0f, zp[r] = 0;
      std::memset(q, 0, std::size_t(ldq));
      continue;
    }
    const float inv = 1.0f / scale;
    const std::int32_t z = std::min(std::max(std::int32_t(std::nearbyint(-lo * inv)), 0), kInt8ActMax);
    s[r] = scale, zp[r] = z;
    i = 0;
#if FASTMLP_INT8_ISA
    const __m256 vinv = _mm256_set1_ps(inv);
    const __m256i vz = _mm256_set1_epi32(z), v0 = _mm256_setzero_si256(), vmax = _mm256_set1_epi32(kInt8ActMax);
    const __m256i gather = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
    // 32 at a time: rint(x inv) in int32 (|x inv| <= 255.5), packed to int16 with the zero point added
    // there (no saturation: |sum| < 512), then to u8 with unsigned saturation = the clamp to [0, 255];
    // the packs work within 128-bit lanes, the permutation puts the 4-byte groups back in order.
    const __m256i vz16 = _mm256_set1_epi16(std::int16_t(z)), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (; i + 32 <= d; i += 32) {
      __m256i v[4];
      for (int t = 0; t < 4; ++t) v[t] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * t), vinv));
      const __m256i lo = _mm256_adds_epi16(_mm256_packs_epi32(v[0], v[1]), vz16);
      const __m256i hi = _mm256_adds_epi16(_mm256_packs_epi32(v[2], v[3]), vz16);
      const __m256i u8 = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(lo, hi), order);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), u8);
    }
    for (; i + 8 <= d; i += 8) {
      __m256i v = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv)), vz);
      v = _mm256_min_epi32(_mm256_max_epi32(v, v0), vmax);
      v = _mm256_packs_epi32(v, v);   // int16: [0..3 0..3 | 4..7 4..7]
      v = _mm256_packus_epi16(v, v);  // u8: dword 0 = bytes 0..3, dword 4 = bytes 4..7
      v = _mm256_permutevar8x32_epi32(v, gather);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), _mm256_castsi256_si128(v));
    }
#endif
    for (; i < d; ++i) q[i] = quantize_one(x[i], inv, z);
    std::memset(q + d, 0, std::size_t(ldq - d));
  }
  return all_finite;
}

void gemm_s32(const std::uint8_t* Q, Index m, Index ldq, const Int8Weights& W, std::int32_t* C, Index ldc) {
  Prefetch none;
  gemm_rows(Q, m, ldq, Epilogue{W, C, ldc, nullptr, nullptr, nullptr, nullptr, 0, false}, none);
}

// Each block of rows through every layer (int8_chain): layer l writes the block's z into t.H[l % 2]
// (row stride k), where layer l + 1 quantizes it from cache; the last layer writes Z.
bool chain_rows(const float* X, Index m, Index ldx, const Int8Layer* L, Index n, float* Z, Index ldz, Int8Scratch& t) {
  bool all_finite = true;
  for (Index r0 = 0; r0 < m; r0 += kInt8BlockRows) {
    const Index rows = std::min(kInt8BlockRows, m - r0);
    const float* x = X + r0 * ldx;
    Index ld = ldx;
    for (Index l = 0; l < n; ++l) {
      const Int8Weights& W = *L[l].W;
      const bool last = l == n - 1;
      float* z = last ? Z + r0 * ldz : t.H[l % 2];
      const Index ldo = last ? ldz : W.k;
      if (!quantize_rows(x, rows, W.d, ld, t.Q, W.d4, t.s, t.zp) && l == 0) all_finite = false;
      Prefetch next;  // the first layer's next block of X, during this block's products
      if (l == 0 && r0 + rows < m) next = Prefetch{x + rows * ldx, std::min(kInt8BlockRows, m - r0 - rows), W.d, ldx};
      gemm_rows(t.Q, rows, W.d4, Epilogue{W, nullptr, 0, t.s, t.zp, L[l].b, z, ldo, L[l].relu}, next);
      x = z, ld = ldo;
    }
  }
  return all_finite;
}

// One layer (tests/emulated's entry point into each build).
bool dense_rows(const float* X, Index m, Index ldx, const Int8Weights& W, const float* b, float* Z, Index ldz,
                bool relu, Int8Scratch& t) {
  const Int8Layer layer{&W, b, relu};
  return chain_rows(X, m, ldx, &layer, 1, Z, ldz, t);
}

const char* isa() {
  const char* names[] = {"portable", "avx2", "avxvnni", "avx512vnni"};
  return names[FASTMLP_INT8_ISA];
}

}  // namespace FASTMLP_KERNEL_NS
}  // namespace fastmlp
