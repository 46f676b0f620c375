// The packing of the AVX512_BF16 kernel's operands (gemm_bf16_avx512.cpp). x86-64 only, private to
// cpp/src. AVX-512 (F, BW, DQ, VL and BF16's vcvtne2ps2bf16), compiled with the kernel's target attribute,
// so it runs where the kernel runs; tests/emulated/bf16.cpp compiles it for AVX2 with SIMDe (and its own
// stand-ins for vcvtne2ps2bf16 and vfpclassps), like the kernel. bench/bf16_pack.cpp checks the
// conversion against bf16_round_word on all 2^32 bit patterns.
//
// Packed layouts. K is taken in pairs (p = k / 2, P = ceil(K / 2) of them); the word of lane l and pair p
// holds the bf16 pair (X_l[2p], X_l[2p + 1]), the even k in the low 16 bits, as vdpbf16ps reads it,
// and the odd k past an odd K is zero. A "lane" is a column n of op(B) or a row i of op(A).
//   Blocks (op(B), W = 16 lanes, a zmm of floats; op(A) = A^T, W = 8, the micro-kernel's rows): word
//     [(l / W) P + p] [l % W]; lanes past L (the last block) are zeros. pack_lane_columns (a lane is a
//     stored column: B, A^T) and pack_lane_rows (a lane is a stored row: B^T).
//   Rows (op(A) = A as stored): lane l's P words in order at l rs (row_stride): the bf16 of a row, in
//     order, are its pair words, so packing is a conversion with no transpose (pack_rows_in_order).
// The packers write every word, padding included, so the scratch need not be zeroed first. They never
// read outside the operand (no row past L, no column past K: a row's tail is a masked load) and never
// write past the last block or row.
//
// Speed (bench/bf16_pack.cpp, AMD EPYC Zen 5, one core): the AVX2 packers before these took 0.13-0.17
// ns per element, and 0.35-0.57 for op(A) = X^T at batch 512 / 2048, whose 8-lane blocks lie P 32
// bytes apart: each p wrote half a cache line to every block, the lines aliasing in L1 at large P.
// These write whole lines (4 to a block at a time) and convert 32 floats per vcvtne2ps2bf16. op(A) = A
// took 8-lane blocks too until the rows layout, whose 8 x 16 transposes cost more than the conversion.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "fastmlp/gemm_bf16.hpp"

// tests/emulated/bf16.cpp defines it empty: there SIMDe's AVX2 code stands in for the AVX-512 intrinsics.
#ifndef FASTMLP_BF16_TARGET
#define FASTMLP_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16")))
#endif

namespace fastmlp {

namespace bf16_pack {

// bf16_round_word (gemm_bf16.hpp) on 16 lanes, the bits that matter: the bf16 in the high half (the
// low half is left as the addition leaves it; callers take the high halves only).
FASTMLP_BF16_TARGET inline __m512i round_words(__m512i u) {
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i nearest = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  // |u| > inf's bits: both sides below 2^31, so the signed compare is the unsigned one
  const __mmask16 nan =
      _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  return _mm512_mask_or_epi32(nearest, nan, u, _mm512_set1_epi32(0x00400000));
}

// Pair words from two rounded vectors, lane by lane: the even k's bf16 low, the odd k's high.
FASTMLP_BF16_TARGET inline __m512i pair_lanes(__m512i even, __m512i odd) {
  return _mm512_mask_blend_epi16(__mmask32(0xAAAAAAAAu), _mm512_srli_epi32(even, 16), odd);
}

// Pair words from 32 consecutive rounded floats (lo: 0-15, hi: 16-31): word j = (x_2j, x_2j+1), j < 16.
// The 16-bit element 2e + 1 of lo:hi is the bf16 of float e.
FASTMLP_BF16_TARGET inline __m512i pair_neighbours(__m512i lo, __m512i hi) {
  const __m512i odd_halves = _mm512_set_epi16(63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35, 33, 31, 29,
                                              27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  return _mm512_permutex2var_epi16(lo, odd_halves, hi);
}

// x[0, n) of up to 16 floats, zeros after (n <= 0: no access at all).
FASTMLP_BF16_TARGET inline __m512 load_floats(const float* x, Index n) {
  if (n >= 16) return _mm512_loadu_ps(x);
  if (n <= 0) return _mm512_setzero_ps();
  return _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1u), x);
}

// vfpclassps classes: a NaN (quiet, signalling) or an infinity; and those or a subnormal.
constexpr int kNonFinite = 0x01 | 0x80 | 0x08 | 0x10;
constexpr int kSpecial = kNonFinite | 0x20;

// Whether vcvtne2ps2bf16 gives bf16_round_word's bits for all 32 floats of a and b: it rounds to nearest
// even as that does, but treats subnormal inputs as zeros, so 32 floats with a subnormal (or a NaN or an
// infinity, left to the one rule too: then the same test also finds a non-finite operand) among them are
// rounded by round_words instead (one class test each, rarely failed).
FASTMLP_BF16_TARGET inline bool converts_exactly(__m512 a, __m512 b) {
  return (_mm512_fpclass_ps_mask(a, kSpecial) | _mm512_fpclass_ps_mask(b, kSpecial)) == 0;
}

// The 16 pair words of x[0, n) (up to 32 floats, zeros after); finite (not null) is cleared where the
// floats hold a NaN or an infinity (the training step's check of the model's input, gemm_bf16.hpp).
FASTMLP_BF16_TARGET inline __m512i neighbour_words(const float* x, Index n, bool* finite = nullptr) {
  const __m512 lo = load_floats(x, n), hi = load_floats(x + 16, n - 16);
  if (converts_exactly(lo, hi)) return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
  if (finite && (_mm512_fpclass_ps_mask(lo, kNonFinite) | _mm512_fpclass_ps_mask(hi, kNonFinite)) != 0) *finite = false;
  return pair_neighbours(round_words(_mm512_castps_si512(lo)), round_words(_mm512_castps_si512(hi)));
}

// The 16 pair words of two rows' 16 lanes (even k, odd k), as neighbour_words: vcvtne2ps2bf16 gives
// the even row's bf16 then the odd row's, vpermw interleaves them.
FASTMLP_BF16_TARGET inline __m512i lane_words(__m512 even, __m512 odd) {
  if (converts_exactly(even, odd)) {
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                                6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(odd, even));
  }
  return pair_lanes(round_words(_mm512_castps_si512(even)), round_words(_mm512_castps_si512(odd)));
}

// The 8 x 16 transpose of 32-bit words: r[i][j] (row i, pair j) to out[q] = pair 2q's 8 rows, then pair
// 2q + 1's: the 8-lane layout of 16 pairs, out[0..7] contiguous.
FASTMLP_BF16_TARGET inline void transpose8x16(const __m512i r[8], __m512i out[8]) {
  __m512i t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);      // per 128-bit chunk c: rows i, i+1 of pairs 4c, 4c+1
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);  // of pairs 4c+2, 4c+3
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);          // rows i..i+3 of pair 4c
    u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);      // 4c + 1
    u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);  // 4c + 2
    u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);  // 4c + 3
  }
  // chunk c of out[2c] = [u0.c u4.c u1.c u5.c] (pairs 4c, 4c+1), of out[2c+1] = [u2.c u6.c u3.c u7.c]
  for (int h = 0; h < 2; ++h) {
    const __m512i a = u[2 * h], b = u[2 * h + 4], c = u[2 * h + 1], d = u[2 * h + 5];
    const __m512i s0 = _mm512_shuffle_i32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                  s1 = _mm512_shuffle_i32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    const __m512i s2 = _mm512_shuffle_i32x4(c, d, _MM_SHUFFLE(2, 0, 2, 0)),
                  s3 = _mm512_shuffle_i32x4(c, d, _MM_SHUFFLE(3, 1, 3, 1));
    out[h] = _mm512_shuffle_i32x4(s0, s2, _MM_SHUFFLE(2, 0, 2, 0));      // chunk 0
    out[h + 2] = _mm512_shuffle_i32x4(s1, s3, _MM_SHUFFLE(2, 0, 2, 0));  // chunk 1
    out[h + 4] = _mm512_shuffle_i32x4(s0, s2, _MM_SHUFFLE(3, 1, 3, 1));  // chunk 2
    out[h + 6] = _mm512_shuffle_i32x4(s1, s3, _MM_SHUFFLE(3, 1, 3, 1));  // chunk 3
  }
}

// Two pairs of an 8-lane block (v = pair p's 8 words, then p + 1's) to `to`: n = how many of them exist.
FASTMLP_BF16_TARGET inline void store_two_pairs(std::uint32_t* to, __m512i v, Index n) {
  if (n >= 2)
    _mm512_storeu_si512(static_cast<void*>(to), v);
  else if (n == 1)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(to), _mm512_castsi512_si256(v));
}

}  // namespace bf16_pack

// Lanes as rows of the stored X (L x K, row stride ld; k runs along a row), in 16-lane blocks: B
// transposed. A pair is two neighbours of a row: 32 floats of a row give 16 pair words (one vpermt2w);
// 8 rows' words are then turned in registers (8 x 16 transpose) into 16 pairs x 8 lanes, and two such
// groups make 16 pairs of 16 lanes, stored whole.
FASTMLP_BF16_TARGET inline void pack_lane_rows(const float* X, Index ld, Index L, Index K, std::uint32_t* dst) {
  using namespace bf16_pack;
  constexpr int W = 16;
  const Index P = (K + 1) / 2;
  for (Index b0 = 0; b0 < L; b0 += W) {
    std::uint32_t* block = dst + (b0 / W) * P * W;
    for (Index p0 = 0; p0 < P; p0 += 16) {
      const Index k0 = 2 * p0;
      __m512i t[2][8];  // per 8-lane group: pairs p0 + 2q, p0 + 2q + 1 of its 8 lanes
      for (int g = 0; g < 2; ++g) {
        __m512i r[8];
        for (int i = 0; i < 8; ++i) {
          const Index l = b0 + 8 * g + i;
          const float* x = X + l * ld + k0;
          r[i] = l < L ? neighbour_words(x, K - k0) : _mm512_setzero_si512();  // else a padding lane
        }
        transpose8x16(r, t[g]);
      }
      for (int q = 0; q < 8; ++q) {  // pair p: lanes 0-7 from group 0, 8-15 from group 1 (the low halves), then p + 1's
        const Index p = p0 + 2 * q;
        if (p >= P) break;
        _mm512_storeu_si512(static_cast<void*>(block + p * W),
                            _mm512_shuffle_i64x2(t[0][q], t[1][q], _MM_SHUFFLE(1, 0, 1, 0)));
        if (p + 1 < P)
          _mm512_storeu_si512(static_cast<void*>(block + (p + 1) * W),
                              _mm512_shuffle_i64x2(t[0][q], t[1][q], _MM_SHUFFLE(3, 2, 3, 2)));
      }
    }
  }
}

// Words from one packed row to the next in the rows layout: P rounded up to whole 64-byte lines (the
// packer writes whole lines, zeros past P), and to an odd number of them, so that the tile's 8 row
// streams fall in distinct sets of L1 whatever P is.
constexpr Index row_stride(Index P) { return ((P + 15) / 16 | 1) * 16; }

// Lanes as rows of the stored X (L x K, row stride ld), in the rows layout: lane l's words at
// dst + l row_stride(P), each 32 floats of the row converted by one vcvtne2ps2bf16 and stored as they
// come (neighbour_words), with no transpose. Returns whether the rows are all finite.
FASTMLP_BF16_TARGET inline bool pack_rows_in_order(const float* X, Index ld, Index L, Index K, std::uint32_t* dst) {
  using namespace bf16_pack;
  const Index P = (K + 1) / 2, rs = row_stride(P);
  bool finite = true;
  for (Index l = 0; l < L; ++l)
    for (Index p0 = 0; p0 < P; p0 += 16)
      _mm512_storeu_si512(static_cast<void*>(dst + l * rs + p0),
                          neighbour_words(X + l * ld + 2 * p0, K - 2 * p0, &finite));
  return finite;
}

// Rows [0, L) of the stored X (L x K, row stride ld) twice from one conversion: in the rows layout at
// dst (as pack_rows_in_order), and as the 8-lane blocks of X^T (pack_lane_columns<8>'s layout, a lane a
// column of X, pair q = rows 2q, 2q + 1) at pairs q0 + [0, ceil(L / 2)) of blocks of P_all pairs at dst_t:
// the forward product Z = X W keeps the second for the weight gradient X^T delta of the same training
// step (gemm_bf16.hpp, Bf16Input), which then neither reads X again nor converts it. 16 rows at a time:
// converted in order (pack_rows_in_order: X read row after row; reading 16 rows side by side, as
// pack_lane_columns does, ran at a third of the speed from DRAM), then read back from L1, two rows' bf16
// interleaved by two vpermt2w into X^T's pair words, each block receiving 4 whole cache lines. An odd
// L's last row pairs with zeros; the lanes past K are zeros.
// Returns whether the rows are all finite (NaN and infinities are converted as bf16_round does, and noted:
// the training step's check of the model's input, gemm_bf16.hpp).
FASTMLP_BF16_TARGET inline bool pack_rows_and_columns(const float* X, Index ld, Index L, Index K, std::uint32_t* dst,
                                                      std::uint32_t* dst_t, Index P_all, Index q0) {
  using namespace bf16_pack;
  constexpr int W = 8, G = 8;  // X^T's block width; pairs of rows per group (4 whole lines to a block)
  const Index P = (K + 1) / 2, rs = row_stride(P), Q = (L + 1) / 2, blocks = (K + W - 1) / W;
  // 16-bit element e of (even, odd): word j = (even's element j, odd's element j); j < 16, then 16 + j
  const __m512i first = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6, 37,
                                         5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
  const __m512i second = _mm512_add_epi16(first, _mm512_set1_epi16(16));
  bool finite = true;
  for (Index g0 = 0; g0 < Q; g0 += G) {
    const Index n = std::min<Index>(G, Q - g0), r0 = 2 * g0;  // pairs in this group, its first row
    // the group's rows converted in order, X read row after row (one stream from memory)
    if (!pack_rows_in_order(X + r0 * ld, ld, std::min<Index>(2 * G, L - r0), K, dst + r0 * rs)) finite = false;
    for (Index p0 = 0; p0 < P; p0 += 16) {  // columns 2 p0 .. 2 p0 + 31: X^T's blocks p0 / 4 .. p0 / 4 + 3
      __m512i lo[G], hi[G];                 // pair g0 + j's words of those columns: 0-15, 16-31
      for (int j = 0; j < G; ++j) {
        const Index r = r0 + 2 * j;
        __m512i even = _mm512_setzero_si512(), odd = _mm512_setzero_si512();
        if (j < n) even = _mm512_loadu_si512(static_cast<const void*>(dst + r * rs + p0));  // from L1
        if (j < n && r + 1 < L) odd = _mm512_loadu_si512(static_cast<const void*>(dst + (r + 1) * rs + p0));
        lo[j] = _mm512_permutex2var_epi16(even, first, odd);
        hi[j] = _mm512_permutex2var_epi16(even, second, odd);
      }
      for (int b = 0; b < 4 && p0 / 4 + b < blocks; ++b) {  // block p0 / 4 + b: lanes 8 (b % 2).. of lo or hi
        const __m512i* w = b < 2 ? lo : hi;
        std::uint32_t* to = dst_t + (p0 / 4 + b) * P_all * W + (q0 + g0) * W;
        for (int j = 0; j < G; j += 2)
          store_two_pairs(to + j * W,
                          b % 2 ? _mm512_shuffle_i64x2(w[j], w[j + 1], _MM_SHUFFLE(3, 2, 3, 2))
                                : _mm512_shuffle_i64x2(w[j], w[j + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                          n - j);
      }
    }
  }
  return finite;
}

// Lanes as columns of the stored X (K x L, row stride ld; a lane runs down a column): B as stored, A
// transposed. A pair is two rows' elements at the same column: 16 lanes of rows 2p and 2p + 1 give 16
// pair words. Pairs are taken 64 / W at a time (8 or 16 rows), so that each block receives 4 whole cache
// lines at once.
template <int W>
FASTMLP_BF16_TARGET void pack_lane_columns(const float* X, Index ld, Index L, Index K, std::uint32_t* dst) {
  using namespace bf16_pack;
  static_assert(W == 8 || W == 16, "the kernel's two block widths");
  const Index P = (K + 1) / 2, lanes = (L + W - 1) / W * W;
  constexpr int G = 64 / W;  // pairs per group: 4 cache lines to each block at a time
  for (Index p0 = 0; p0 < P; p0 += G) {
    const Index n = P - p0;  // pairs left (G or more: a whole group)
    for (Index l0 = 0; l0 < lanes; l0 += 16) {
      __m512i w[G];  // pair p0 + j's words of lanes l0..l0+15
      for (int j = 0; j < G; ++j) {
        const Index k = 2 * (p0 + j);
        const float* even = X + k * ld + l0;
        w[j] = lane_words(k < K ? load_floats(even, L - l0) : _mm512_setzero_ps(),
                          k + 1 < K ? load_floats(even + ld, L - l0) : _mm512_setzero_ps());
      }
      std::uint32_t* to = dst + (l0 / W) * P * W + p0 * W;
      if (W == 16) {
        for (int j = 0; j < G && j < n; ++j) _mm512_storeu_si512(static_cast<void*>(to + j * W), w[j]);
      } else {  // lanes l0..l0+7 to one block, l0+8..l0+15 (if within the blocks) to the next
        for (int j = 0; j < G; j += 2)
          store_two_pairs(to + j * W, _mm512_shuffle_i64x2(w[j], w[j + 1], _MM_SHUFFLE(1, 0, 1, 0)), n - j);
        if (l0 + W < lanes)
          for (int j = 0; j < G; j += 2)
            store_two_pairs(to + P * W + j * W, _mm512_shuffle_i64x2(w[j], w[j + 1], _MM_SHUFFLE(3, 2, 3, 2)), n - j);
      }
    }
  }
}

}  // namespace fastmlp
