// cpp/src/gemm_bf16_avx512.cpp (vdpbf16ps) compiled for AVX2, SIMDe's _mm512_* standing in for the
// AVX-512 intrinsics, beside the library's emulated path: one C function for tests/test_emulated_kernels.py.
// SIMDe's vdpbf16ps keeps subnormal operands and results where the instruction flushes them to zero,
// and adds each pair of products in its own order: the test holds the kernel to float32 accumulation
// accuracy on normal numbers, as tests/test_mixed_bf16.py holds the instruction.
#define SIMDE_ENABLE_NATIVE_ALIASES
// clang's __mmask64 is unsigned long long, SIMDe 0.8.2's alias of it uint64_t (unsigned long): a macro of that
// name keeps SIMDe from declaring its own (GCC's is SIMDe's type).
#define __mmask64 __mmask64
#include <simde/x86/avx512.h>  // first: its macros stand in for the intrinsics the kernel's <immintrin.h> lacks

#if defined(SIMDE_X86_AVX512BF16_NATIVE) || defined(SIMDE_X86_AVX512F_NATIVE)
#error "compile without AVX-512 (CMakeLists.txt): this file is meant to run the emulation"
#endif

// SIMDe 0.8.2's masked load and store move all 16 lanes: they read and write past the mask (past the
// end of C's row, zeros into the columns after it; simd-everywhere/simde issue 1204). The instructions
// touch the masked lanes only; so do these.
#include <cstdint>
#include <cstring>

#include "fastmlp/gemm_bf16.hpp"  // bf16_round_word

namespace emulated {
inline simde__m512 maskz_loadu_ps(simde__mmask16 k, const void* p) {
  float v[16] = {};
  for (int j = 0; j < 16; ++j)
    if ((k >> j) & 1u) std::memcpy(v + j, static_cast<const float*>(p) + j, sizeof(float));
  return simde_mm512_loadu_ps(v);
}
inline void mask_storeu_ps(void* p, simde__mmask16 k, simde__m512 a) {
  float v[16];
  simde_mm512_storeu_ps(v, a);
  for (int j = 0; j < 16; ++j)
    if ((k >> j) & 1u) std::memcpy(static_cast<float*>(p) + j, v + j, sizeof(float));
}
}  // namespace emulated
// SIMDe 0.8.2 has neither vcvtne2ps2bf16 nor the 512-bit vfpclassps; the packing uses both
// (cpp/src/gemm_bf16_pack.hpp). These follow Intel's pseudocode: b's 16 floats to the low 16 bf16, a's
// to the high, rounded to nearest even, subnormal inputs taken as zeros (sign kept), NaNs quieted.
namespace emulated {
inline simde__m512bh cvtne2ps_pbh(simde__m512 a, simde__m512 b) {
  float in[32];
  simde_mm512_storeu_ps(in, b);
  simde_mm512_storeu_ps(in + 16, a);
  std::uint16_t out[32];
  for (int i = 0; i < 32; ++i) {
    std::uint32_t u;
    std::memcpy(&u, in + i, sizeof u);
    if ((u & 0x7f800000u) == 0) u &= 0x80000000u;  // zero or subnormal: a zero of its sign
    out[i] = std::uint16_t(fastmlp::bf16_round_word(u) >> 16);
  }
  simde__m512bh r;
  std::memcpy(&r, out, sizeof r);
  return r;
}
// The classes the packing asks about: 0x01 quiet NaN, 0x08 / 0x10 +- infinity, 0x20 subnormal, 0x80
// signalling NaN.
inline simde__mmask16 fpclass_ps_mask(simde__m512 a, int imm) {
  float v[16];
  simde_mm512_storeu_ps(v, a);
  simde__mmask16 k = 0;
  for (int j = 0; j < 16; ++j) {
    std::uint32_t u;
    std::memcpy(&u, v + j, sizeof u);
    const bool nan = (u & 0x7fffffffu) > 0x7f800000u, quiet = (u & 0x00400000u) != 0;
    const bool hit = ((imm & 0x01) && nan && quiet) || ((imm & 0x80) && nan && !quiet) ||
                     ((imm & 0x08) && u == 0x7f800000u) || ((imm & 0x10) && u == 0xff800000u) ||
                     ((imm & 0x20) && (u & 0x7f800000u) == 0 && (u & 0x007fffffu) != 0);
    if (hit) k = simde__mmask16(k | (1u << j));
  }
  return k;
}
}  // namespace emulated
#define _mm512_cvtne2ps_pbh(a, b) emulated::cvtne2ps_pbh(a, b)
#define _mm512_fpclass_ps_mask(a, imm) emulated::fpclass_ps_mask(a, imm)

#undef _mm512_maskz_loadu_ps
#define _mm512_maskz_loadu_ps(k, p) emulated::maskz_loadu_ps(k, p)
#undef _mm512_mask_storeu_ps
#define _mm512_mask_storeu_ps(p, k, a) emulated::mask_storeu_ps(p, k, a)

#define FASTMLP_BF16_TARGET                      // no AVX-512 code generation
#define gemm_bf16_avx512 gemm_bf16_avx512_simde  // not the library's symbol
#include "../../cpp/src/gemm_bf16_avx512.cpp"
#undef gemm_bf16_avx512

#include <cstdint>
#include <vector>

#include "fastmlp/threads.hpp"

extern "C" {

// C = alpha op(bf16(A)) op(bf16(B)) + beta C (gemm_bf16.hpp): kernel 1 the AVX512_BF16 kernel (emulated),
// 0 the library's emulated path (fastmlp::gemm_bf16_emulated).
void emu_gemm_bf16(int kernel, int ta, int tb, std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
                   const float* A, std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C,
                   std::int64_t ldc) {
  if (kernel == 1)
    fastmlp::gemm_bf16_avx512_simde(ta != 0, tb != 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    fastmlp::gemm_bf16_emulated(ta != 0, tb != 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// A training step's two products of one x (gemm_bf16.hpp, Bf16Input) through the kernel: Z (M x N) =
// bf16(X) bf16(W) (X: M x K, row stride ldx), keeping X^T's words in a buffer that starts as garbage
// (every word must be written), then C (K x N2) = alpha bf16(X)^T bf16(D) + beta C (D: M x N2) from them.
// Returns whether the first product found X finite (the training loop's check of the model's input).
int emu_gemm_bf16_keep(std::int64_t M, std::int64_t N, std::int64_t K, const float* X, std::int64_t ldx, const float* W,
                       float* Z, std::int64_t N2, const float* D, float alpha, float beta, float* C) {
  std::vector<std::uint32_t> at(std::size_t((K + 7) / 8 * ((M + 1) / 2) * 8), 0x7fc17fc1u);  // NaN pairs
  bool finite = false;
  fastmlp::gemm_bf16_avx512_simde(false, false, M, N, K, 1.0f, X, ldx, W, N, 0.0f, Z, N, at.data(), nullptr, &finite);
  fastmlp::gemm_bf16_avx512_simde(true, false, K, N2, M, alpha, X, ldx, D, N2, beta, C, N2, nullptr, at.data());
  return finite ? 1 : 0;
}

// The threads of this library's own pool (its copy of fastmlp::set_num_threads, not the Python module's):
// sets n (n > 0) and returns the count in force before.
int emu_set_num_threads(int n) {
  const int before = fastmlp::get_num_threads();
  if (n > 0) fastmlp::set_num_threads(n);
  return before;
}

}  // extern "C"
