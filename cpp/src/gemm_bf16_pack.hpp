// The packing of the AVX512_BF16 kernel's operands (gemm_bf16_avx512.cpp) and the rounding rule it uses
// on 8 lanes (bf16_round_words; bench/bf16_pack.cpp checks it against bf16_round_word on all 2^32 bit
// patterns). x86-64 only, private to cpp/src. AVX2, not AVX-512: every AVX512_BF16 CPU has it,
// packing is bound by memory (256-bit lanes lose little), and so this code runs, and is timed, on
// AVX2-only machines too (bench/bf16_pack.cpp). Every function needs a CPU with AVX2; callers check.
//
// Packed layout (both operands, W = lanes per block): a "lane" l is a row i of op(A) (W = 8, the
// micro-kernel's rows) or a column n of op(B) (W = 16, a zmm of floats); K is taken in pairs
// (p = k / 2, P = ceil(K / 2) of them). Word [(l / W) P + p] [l % W] holds the bf16 pair
// (X_l[2p], X_l[2p + 1]): the even k in the low 16 bits, as vdpbf16ps reads it. Lanes past L (the
// last block) and the odd k past an odd K are zeros. The packers write every word, padding included,
// so the scratch need not be zeroed first. They never read outside the operand (no row past L,
// no column past K): a row's tail is loaded with vpmaskmovd, which does not touch masked-off lanes.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "fastmlp/gemm_bf16.hpp"

namespace fastmlp {

#define FASTMLP_AVX2 __attribute__((target("avx2")))

// bf16_round_word (gemm_bf16.hpp) on 8 lanes: the same rule, the same bits.
FASTMLP_AVX2 inline __m256i bf16_round_words(__m256i u) {
  const __m256i high = _mm256_set1_epi32(int(0xffff0000u));
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i nearest = _mm256_and_si256(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), high);
  const __m256i quiet_nan = _mm256_and_si256(_mm256_or_si256(u, _mm256_set1_epi32(0x00400000)), high);
  // |u| > inf's bits: both sides below 2^31, so the signed compare is the unsigned one
  const __m256i nan =
      _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
  return _mm256_blendv_epi8(nearest, quiet_nan, nan);
}

namespace bf16_pack {

// Loads x[0, n) of up to 8 floats as 32-bit words, zeros after (n <= 0: no access at all).
FASTMLP_AVX2 inline __m256i load_words(const float* x, Index n) {
  if (n >= 8) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  if (n <= 0) return _mm256_setzero_si256();
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return _mm256_maskload_epi32(reinterpret_cast<const int*>(x), mask);
}

// The 8x8 transpose of 32-bit words: w[r][c] becomes w[c][r].
FASTMLP_AVX2 inline void transpose8(__m256i w[8]) {
  __m256i t[8], s[8];
  for (int r = 0; r < 8; r += 2) {
    t[r] = _mm256_unpacklo_epi32(w[r], w[r + 1]);      // per 128-bit half: (r, c) (r+1, c) for c = 0, 1 | 4, 5
    t[r + 1] = _mm256_unpackhi_epi32(w[r], w[r + 1]);  // c = 2, 3 | 6, 7
  }
  for (int r = 0; r < 8; r += 4) {
    s[r] = _mm256_unpacklo_epi64(t[r], t[r + 2]);          // rows r..r+3 of column 0 | 4
    s[r + 1] = _mm256_unpackhi_epi64(t[r], t[r + 2]);      // 1 | 5
    s[r + 2] = _mm256_unpacklo_epi64(t[r + 1], t[r + 3]);  // 2 | 6
    s[r + 3] = _mm256_unpackhi_epi64(t[r + 1], t[r + 3]);  // 3 | 7
  }
  for (int c = 0; c < 4; ++c) {
    w[c] = _mm256_permute2x128_si256(s[c], s[c + 4], 0x20);  // rows 0..3 and 4..7 of column c
    w[c + 4] = _mm256_permute2x128_si256(s[c], s[c + 4], 0x31);
  }
}

}  // namespace bf16_pack

// Lanes as rows of the stored X (L x K, row stride ld; k runs along a row): A as stored, B transposed.
// A pair is two neighbours of a row, so 16 floats of a row round into 8 pair words (vpackusdw); 8 rows'
// words are then turned in registers (8x8 transpose) into 8 stores of 8 lanes each. A block's W lanes
// are done together, so that each store of 8 pairs x W lanes fills whole cache lines at once.
template <int W>
FASTMLP_AVX2 void pack_lane_rows(const float* X, Index ld, Index L, Index K, std::uint32_t* dst) {
  using namespace bf16_pack;
  static_assert(W % 8 == 0, "blocks of whole 8-lane groups");
  const Index P = (K + 1) / 2;
  // vpackusdw packs per 128-bit half: its words are the pairs 0, 1, 4, 5 | 2, 3, 6, 7 of the 16 floats
  constexpr int pair_of_word[8] = {0, 1, 4, 5, 2, 3, 6, 7};
  for (Index b0 = 0; b0 < L; b0 += W) {
    std::uint32_t* block = dst + (b0 / W) * P * W;
    for (Index p0 = 0; p0 < P; p0 += 8) {
      const Index k0 = 2 * p0;
      for (int g = 0; g < W; g += 8) {
        __m256i w[8];
        for (int r = 0; r < 8; ++r) {
          const Index l = b0 + g + r;
          if (l >= L) {
            w[r] = _mm256_setzero_si256();  // padding lane
            continue;
          }
          const float* x = X + l * ld + k0;
          // bf16 bits moved to the low half: at most 0xffff, so the unsigned saturation keeps them
          const __m256i lo = _mm256_srli_epi32(bf16_round_words(load_words(x, K - k0)), 16);
          const __m256i hi = _mm256_srli_epi32(bf16_round_words(load_words(x + 8, K - k0 - 8)), 16);
          w[r] = _mm256_packus_epi32(lo, hi);
        }
        transpose8(w);  // w[c]: the 8 lanes' word c
        for (int c = 0; c < 8; ++c) {
          const Index p = p0 + pair_of_word[c];
          if (p < P) _mm256_storeu_si256(reinterpret_cast<__m256i*>(block + p * W + g), w[c]);
        }
      }
    }
  }
}

// Lanes as columns of the stored X (K x L, row stride ld; a lane runs down a column): B as stored, A
// transposed. A pair is two rows' elements at the same column: 8 lanes of rows 2p and 2p + 1 give 8
// pair words, stored as they are. Rows 2p and 2p + 1 are read whole, then the next pair's: walking the
// pairs for 32 lanes at a time instead (fewer write streams) measured slower (bench/bf16_pack.cpp).
template <int W>
FASTMLP_AVX2 void pack_lane_columns(const float* X, Index ld, Index L, Index K, std::uint32_t* dst) {
  using namespace bf16_pack;
  static_assert(W % 8 == 0, "blocks of whole 8-lane groups");
  const Index P = (K + 1) / 2, lanes = (L + W - 1) / W * W;
  for (Index p = 0; p < P; ++p) {
    const float* even = X + 2 * p * ld;
    const bool has_odd = 2 * p + 1 < K;  // else the pair's odd half stays zero
    for (Index l0 = 0; l0 < lanes; l0 += 8) {
      const __m256i e = _mm256_srli_epi32(bf16_round_words(load_words(even + l0, L - l0)), 16);
      const __m256i o = has_odd ? bf16_round_words(load_words(even + ld + l0, L - l0)) : _mm256_setzero_si256();
      std::uint32_t* to = dst + (l0 / W) * P * W + p * W + l0 % W;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(to), _mm256_or_si256(e, o));
    }
  }
}

#undef FASTMLP_AVX2

}  // namespace fastmlp
