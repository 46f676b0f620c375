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
#include <cstring>
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
#undef _mm512_maskz_loadu_ps
#define _mm512_maskz_loadu_ps(k, p) emulated::maskz_loadu_ps(k, p)
#undef _mm512_mask_storeu_ps
#define _mm512_mask_storeu_ps(p, k, a) emulated::mask_storeu_ps(p, k, a)

#define FASTMLP_BF16_TARGET                      // no AVX-512 code generation
#define gemm_bf16_avx512 gemm_bf16_avx512_simde  // not the library's symbol
#include "../../cpp/src/gemm_bf16_avx512.cpp"
#undef gemm_bf16_avx512

#include <cstdint>

#include "fastmlp/threads.hpp"

extern "C" {

// C = alpha op(bf16(A)) op(bf16(B)) + beta C (gemm_bf16.hpp): kernel 1 the AVX512_BF16 kernel (emulated),
// 0 the library's emulated path (fastmlp::gemm_bf16_emulated).
void emu_gemm_bf16(int kernel, int ta, int tb, std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
                   const float* A, std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C,
                   std::int64_t ldc) {
  auto* gemm = kernel == 1 ? &fastmlp::gemm_bf16_avx512_simde : &fastmlp::gemm_bf16_emulated;
  gemm(ta != 0, tb != 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// The threads of this library's own pool (its copy of fastmlp::set_num_threads, not the Python module's):
// sets n (n > 0) and returns the count in force before.
int emu_set_num_threads(int n) {
  const int before = fastmlp::get_num_threads();
  if (n > 0) fastmlp::set_num_threads(n);
  return before;
}

}  // extern "C"
