// Mixed bfloat16 products (Sequential(dtype="mixed_bfloat16"), Network<float>::set_mixed_bf16).
//
// bfloat16 is float32 with its 16 low mantissa bits dropped: the same 8-bit exponent (same range),
// an 8-bit significand (7 stored bits + the implicit one). In a mixed product
//
//   C = alpha op(bf16(A)) op(bf16(B)) + beta C
//
// each operand element is rounded to the nearest bfloat16 (ties to even), every product of two
// rounded elements is exact in float32 (8 x 8 = 16 significand bits <= 24), and the sums are float32
// (the float32 kernel's order). C itself (the output, or the master weights of the fused SGD step
// W += -rate X^T D) is never rounded. Elsewhere (bias, activations, losses, normalization, the
// optimizers) the network computes in float32 as usual.
//
// Kernels (picked once per process, bf16_kernel() names the one in use, bf16_kernel_why() why):
//   "avx512_bf16"      vdpbf16ps (gemm_bf16_avx512.cpp): AMD CPUs with AVX512_BF16 (Zen 4+) at level
//                      v4, where bf16 products run at twice float32's rate (on a Zen 5 core: vdpbf16ps's
//                      peak 510 GFLOP/s against 255 for FMA, the kernel 76-89% of it over the bench net's
//                      products; bench/RESULTS_BF16.md). On Intel's AVX512_BF16
//                      CPUs (Cooper Lake, Sapphire Rapids+) only when FASTMLP_BF16=avx512_bf16 asks:
//                      its rate there is unmeasured, and LLVM's Sapphire Rapids model gives vdpbf16ps
//                      half the multiply-add rate of float32 on two FMA units, so by default such a CPU
//                      takes the emulated path and its warning (never silently slower than float32).
//                      It flushes subnormal operands and results to zero and adds each pair of products
//                      in its own order, so it agrees with the emulated path to float32 accumulation
//                      accuracy, not bit for bit.
//   "emulated (avx2)", "emulated (avx512)", "emulated (eigen)"
//                      everywhere else: the operands rounded into scratch copies, then the float32 GEMM
//                      of that level (gemm.hpp). The same numbers as an exact bf16 product, but an extra
//                      pass over both operands per product: slower than float32 (docs/performance.md).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "fastmlp/types.hpp"

namespace fastmlp {

// The bfloat16 nearest to x (ties to even), on x's bits u: its 16 bits in the high half, the low half
// zero. Infinities stay infinities, a finite x past the largest bfloat16 rounds to infinity, subnormals
// round like any other value (no flush), a NaN stays a NaN (made quiet, sign kept; a payload only in
// the dropped bits does not turn it into an infinity). Branch-free, so that loops of it vectorize; its
// 16-lane form (the same bits) is bf16_pack::round_words in cpp/src/gemm_bf16_pack.hpp.
inline std::uint32_t bf16_round_word(std::uint32_t u) {
  // carries into the kept bits when the dropped ones are > half, or = half and the kept ones odd
  const std::uint32_t nearest = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  const std::uint32_t quiet_nan = (u | 0x00400000u) & 0xffff0000u;
  return (u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : nearest;
}

// The bfloat16 nearest to x (bf16_round_word) as its 16 bits.
inline std::uint16_t bf16_bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return static_cast<std::uint16_t>(bf16_round_word(u) >> 16);
}

// x rounded to bfloat16, as a float (exact: every bfloat16 is a float).
inline float bf16_round(float x) {
  const std::uint32_t u = std::uint32_t(bf16_bits(x)) << 16;
  float y;
  std::memcpy(&y, &u, sizeof y);
  return y;
}

// y[i] = bf16_round(x[i]) for i < n (y may be x).
void round_to_bf16(const float* x, float* y, Index n);

// The mixed product above; arguments as fastmlp::gemm's (gemm.hpp).
void gemm_bf16(bool trans_a, bool trans_b, Index M, Index N, Index K, float alpha, const float* A, Index lda,
               const float* B, Index ldb, float beta, float* C, Index ldc);

// A layer's input x (m x d, row stride ld) converted once per training step for both products that read
// it, as autocast's cast cache does: z = x W (gemm_bf16_keep) packs x for itself and also writes here
// x^T's packed words (the AVX512_BF16 kernel's layout of op(A) = x^T: ceil(d / 8) blocks of ceil(m / 2)
// pairs x 8 words), which dW = x^T delta (gemm_bf16_kept) then reads instead of reading x again and
// converting it. The same bf16 words as packing x^T anew: the same bits. The caller keeps x unchanged
// between the two (backprop does: dW reads the x of the forward pass anyway). The Dense layer keeps the
// model's input only (layers/dense.cpp says why).
struct Bf16Input {
  std::vector<std::uint32_t> words;
  const float* x = nullptr;  // the x they hold (null: none), its shape and row stride
  Index m = 0, d = 0, ld = 0;
};

// gemm_bf16(false, false, ...) that keeps A's words in `keep` where the AVX512_BF16 kernel runs and A has
// at most 4096 rows (a larger product runs in slices); elsewhere keep.x = nullptr (nothing kept).
// finite (not null): set to whether A holds no NaN and no infinity, noted while the kept words are made
// (free: the packing classifies every float anyway), else (nothing kept) by a pass over A of its own.
void gemm_bf16_keep(Index M, Index N, Index K, float alpha, const float* A, Index lda, const float* B, Index ldb,
                    float beta, float* C, Index ldc, Bf16Input& keep, bool* finite = nullptr);
// Whether gemm_bf16_keep keeps A (of M rows) here.
bool gemm_bf16_keeps(Index M);
// gemm_bf16(true, false, ...): C (M x N) = alpha A^T B + beta C for the stored A (K x M), taking A^T's words
// from `kept` where it holds this A (pointer, shape, stride), else converting A as gemm_bf16 does.
void gemm_bf16_kept(Index M, Index N, Index K, float alpha, const float* A, Index lda, const float* B, Index ldb,
                    float beta, float* C, Index ldc, const Bf16Input& kept);

// The same product on the emulated path whatever the CPU (the tests compare the kernels with it).
void gemm_bf16_emulated(bool trans_a, bool trans_b, Index M, Index N, Index K, float alpha, const float* A, Index lda,
                        const float* B, Index ldb, float beta, float* C, Index ldc);

// The kernel gemm_bf16 uses here (see above). FASTMLP_BF16 (read once) overrides the choice:
// "emulated", or "avx512_bf16" (where the CPU runs it at level v4); anything else, or "avx512_bf16"
// where it cannot run, throws std::invalid_argument naming the variable (the import fails, as for
// FASTMLP_ARCH).
const char* bf16_kernel();
// Why the emulated path runs, in words ("" for the native kernel): the Python warning's reason.
const char* bf16_kernel_why();

// Whether this CPU and OS run AVX512_BF16 instructions (CPUID leaf 7.1 EAX bit 5, with AVX-512 state).
bool cpu_has_avx512_bf16();

}  // namespace fastmlp
