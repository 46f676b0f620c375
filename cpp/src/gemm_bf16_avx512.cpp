// The AVX512_BF16 kernel of the mixed product (gemm_bf16.hpp): vdpbf16ps (_mm512_dpbf16_ps).
//
// NOT YET RUN ON SILICON: written on an AVX2-only machine (AMD EPYC Zen 3); gemm_bf16.cpp calls it only
// where CPUID reports AVX512_BF16 at level v4. Its logic runs in the test suite under emulation
// (tests/test_emulated_kernels.py: compiled for AVX2 with SIMDe standing in for the AVX-512 intrinsics,
// against the exact product of the rounded operands and the emulated path, transposes, strides, tails,
// alpha and beta); the instruction itself, its subnormal flushing and its speed have not been run or
// measured. tests/test_mixed_bf16.py compares it with the emulated path on such a CPU (Zen 4, Sapphire
// Rapids), so the first run there checks it.
//
// vdpbf16ps adds, per float lane j, the products of two bf16 pairs: c_j += a_2j b_2j + a_2j+1 b_2j+1
// (Intel's order: the odd pair first, each addition rounded to float32, subnormal inputs and results
// flushed to zero). So K is consumed in pairs (p = k / 2), each pair one 32-bit word (the even k low):
//   op(B) is packed per 16 columns: for each pair p one 512-bit row of the 16 columns' words; the last
//     column block and an odd K are padded with zeros.
//   op(A) is packed per MR rows alike: for each pair p the MR rows' words side by side, each broadcast
//     to every lane in turn.
// The micro-kernel keeps MR rows x 32 columns of C in 2 MR zmm accumulators (MR = 8: 16 registers)
// over the whole K; C = alpha acc + beta C at the end (beta 0: C not read). One thread, no cache
// blocking: the bench net's largest packed op(B) (784 x 256) is 400 KB, which a Zen 4 or Sapphire
// Rapids L2 holds.
//
// Packing (gemm_bf16_pack.hpp) is AVX2 and runs on every call, both operands, every word written
// (padding too, so the scratch only grows and is never zeroed per call), rounding with
// bf16_round_words (ties to even, as the emulated path): pairs from two rows at once where the
// operand's lanes are contiguous (B, A^T), 8x8 register transposes where k is (A, B^T). Measured
// natively on an AMD EPYC Zen 3 core (AVX2; bench/bf16_pack.cpp, thread CPU time, load average 1-3 on
// 2 shared CPUs, 3 runs), the bench net's layer 784-256 at batch 128 / 512 / 2048: 0.22-0.28 ns per
// packed element (0.4 in runs disturbed by other jobs), against 1.0-1.7 ns for the scalar loops it
// replaced (3.6-9x). As a share of the product's time at a Zen 4 core's 198 GFLOP/s (vdpbf16ps),
// packing both operands costs, batch 128 / 512 / 2048 (the scalar loops in brackets):
//   Z = X W            27-28% / 14% / 11-12%   (143-148% / 64-67% / 46-47%)
//   dX = delta W^T     24%    / 9%  / 5%       (92-95%   / 32-33% / 18%)
//   dW = X^T delta     11%    / 12% / 13%      (64-70%   / 65-67% / 82-88%)
// At batch 128 W's 200k elements (46 us) dominate; each product that reads W packs it again. Zen 4's
// own packing times, and the products', are not measured: no AVX512_BF16 CPU was at hand.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fastmlp/gemm_bf16.hpp"
#include "gemm_bf16_pack.hpp"

// tests/emulated/bf16.cpp defines it empty: there SIMDe's AVX2 code stands in for the AVX-512 intrinsics.
#ifndef FASTMLP_BF16_TARGET
#define FASTMLP_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#endif

namespace fastmlp {

namespace {

constexpr Index kLanes = 16;  // floats per zmm

// The packers write every word, padding included (gemm_bf16_pack.hpp): the scratch is never zeroed
// for them, nor shrunk (a resize to a smaller size and back would zero the regrown part: the training
// step's products alternate between sizes).
inline void grow(std::vector<std::uint32_t>& scratch, Index words) {
  if (scratch.size() < std::size_t(words)) scratch.resize(std::size_t(words));
}

// C[rows, col0 : col0 + 16 NV) from the packed operands; `cols` <= 16 NV columns are stored.
template <int MR, int NV>
FASTMLP_BF16_TARGET void tile(Index rows, Index P, const std::uint32_t* Ap, const std::uint32_t* Bp, Index bp_stride,
                              float alpha, float beta, float* C, Index ldc, Index cols) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (Index p = 0; p < P; ++p) {
    __m512bh b[NV];
    for (int v = 0; v < NV; ++v)
      b[v] = (__m512bh)_mm512_loadu_si512(static_cast<const void*>(Bp + v * bp_stride + p * kLanes));
    for (int r = 0; r < MR && r < rows; ++r) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(int(Ap[p * MR + r]));
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], a, b[v]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int r = 0; r < MR && r < rows; ++r)
    for (int v = 0; v < NV; ++v) {
      const Index left = cols - v * kLanes;
      if (left <= 0) break;
      const __mmask16 mask = left >= kLanes ? __mmask16(0xffff) : __mmask16((1u << left) - 1u);
      float* c = C + r * ldc + v * kLanes;
      __m512 out = _mm512_mul_ps(va, acc[r][v]);
      if (beta != 0.0f) out = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, c), out);
      _mm512_mask_storeu_ps(c, mask, out);
    }
}

}  // namespace

FASTMLP_BF16_TARGET void gemm_bf16_avx512(bool ta, bool tb, Index M, Index N, Index K, float alpha, const float* A,
                                          Index lda, const float* B, Index ldb, float beta, float* C, Index ldc) {
  if (M == 0 || N == 0 || K == 0) return gemm_bf16_emulated(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  constexpr int MR = 8, NV = 2;
  const Index P = (K + 1) / 2;                 // bf16 pairs along K
  const Index MB = (M + MR - 1) / MR;          // MR-row panels
  const Index NB = (N + kLanes - 1) / kLanes;  // 16-column blocks
  thread_local std::vector<std::uint32_t> Ap, Bp;
  grow(Ap, MB * P * MR);
  grow(Bp, NB * P * kLanes);
  if (ta)
    pack_lane_columns<MR>(A, lda, M, K, Ap.data());  // stored A: K x M
  else
    pack_lane_rows<MR>(A, lda, M, K, Ap.data());
  if (tb)
    pack_lane_rows<kLanes>(B, ldb, N, K, Bp.data());  // stored B: N x K
  else
    pack_lane_columns<kLanes>(B, ldb, N, K, Bp.data());
  const Index bp_stride = P * kLanes;  // one 16-column block of Bp
  for (Index i = 0; i < M; i += MR)
    for (Index nb = 0; nb < NB; nb += NV) {
      const Index cols = std::min<Index>(NV * kLanes, N - nb * kLanes);
      const std::uint32_t* b = Bp.data() + nb * bp_stride;
      float* c = C + i * ldc + nb * kLanes;
      if (nb + NV <= NB)
        tile<MR, NV>(M - i, P, Ap.data() + i * P, b, bp_stride, alpha, beta, c, ldc, cols);
      else
        tile<MR, 1>(M - i, P, Ap.data() + i * P, b, bp_stride, alpha, beta, c, ldc, cols);
    }
}

}  // namespace fastmlp
