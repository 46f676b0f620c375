// cpp/src/gemm_int8.cpp built for each FASTMLP_INT8_ISA in one translation unit (each into its own
// namespace, as CMakeLists.txt builds it): 3 (AVX512-VNNI+VL: _mm256_dpbusd_epi32) and 2 (AVX-VNNI:
// _mm256_dpbusd_avx_epi32) with SIMDe's vpdpbusd, 1 (AVX2) native, with this compiler and these flags; and
// the library's own AVX2 and portable builds (int8_v3, int8_base in libfastmlp.a). C functions for
// tests/test_emulated_kernels.py, `build` naming one: 0 the library's portable, 1 the library's AVX2,
// 2 emulated AVX-VNNI, 3 emulated AVX512-VNNI, 4 this file's AVX2.
#define SIMDE_ENABLE_NATIVE_ALIASES
// clang's __mmask64 is unsigned long long, SIMDe 0.8.2's alias of it uint64_t (unsigned long): a macro of that
// name keeps SIMDe from declaring its own (GCC's is SIMDe's type).
#define __mmask64 __mmask64
#include <simde/x86/avx512.h>  // first: its macros stand in for the intrinsics the kernel's <immintrin.h> lacks

#if defined(SIMDE_X86_AVX512VNNI_NATIVE)
#error "compile without AVX-512 (CMakeLists.txt): this file is meant to run the emulation"
#endif

// AVX-VNNI's vpdpbusd (VEX) computes what AVX512-VNNI's (EVEX) does; SIMDe 0.8.2 emulates only the latter.
#undef _mm256_dpbusd_avx_epi32
#define _mm256_dpbusd_avx_epi32(src, a, b) _mm256_dpbusd_epi32(src, a, b)

#define FASTMLP_INT8_ISA 3
#define FASTMLP_KERNEL_NS int8_emulated_avx512vnni
#include "../../cpp/src/gemm_int8.cpp"
#undef FASTMLP_INT8_ISA
#undef FASTMLP_KERNEL_NS
#define FASTMLP_INT8_ISA 2
#define FASTMLP_KERNEL_NS int8_emulated_avxvnni
#include "../../cpp/src/gemm_int8.cpp"
#undef FASTMLP_INT8_ISA
#undef FASTMLP_KERNEL_NS
#define FASTMLP_INT8_ISA 1
#define FASTMLP_KERNEL_NS int8_here_avx2
#include "../../cpp/src/gemm_int8.cpp"
#undef FASTMLP_INT8_ISA
#undef FASTMLP_KERNEL_NS

#include <algorithm>
#include <cstdint>
#include <exception>
#include <vector>

#include "../../cpp/src/int8_builds.hpp"

namespace fastmlp {
// The library's builds of the same file.
FASTMLP_DECLARE_INT8(int8_base)
FASTMLP_DECLARE_INT8(int8_v3)
}  // namespace fastmlp

namespace {

using fastmlp::Index;

struct Build {
  bool (*quantize_rows)(const float*, Index, Index, Index, std::uint8_t*, Index, float*, std::int32_t*);
  void (*gemm_s32)(const std::uint8_t*, Index, Index, const fastmlp::Int8Weights&, std::int32_t*, Index);
  bool (*dense_rows)(const float*, Index, Index, const fastmlp::Int8Weights&, const float*, float*, Index, bool,
                     fastmlp::Int8Scratch&);
  bool (*chain_rows)(const float*, Index, Index, const fastmlp::Int8Layer*, Index, float*, Index,
                     fastmlp::Int8Scratch&);
  const char* (*isa)();
};
#define BUILD(ns)                                                                                            \
  Build {                                                                                                    \
    &fastmlp::ns::quantize_rows, &fastmlp::ns::gemm_s32, &fastmlp::ns::dense_rows, &fastmlp::ns::chain_rows, \
        &fastmlp::ns::isa                                                                                    \
  }
const Build builds[] = {BUILD(int8_base), BUILD(int8_v3), BUILD(int8_emulated_avxvnni), BUILD(int8_emulated_avx512vnni),
                        BUILD(int8_here_avx2)};
#undef BUILD

const Build* pick(int build) {
  return build >= 0 && build < int(sizeof builds / sizeof builds[0]) ? &builds[build] : nullptr;
}

}  // namespace

extern "C" {

// The build's name ("portable", "avx2", "avxvnni", "avx512vnni"); null for no such build.
const char* emu_int8_isa(int build) { return pick(build) ? pick(build)->isa() : nullptr; }

// quantize_rows: 1 when every row was finite, 0 when one was not, -1 for no such build.
int emu_int8_quantize_rows(int build, const float* X, std::int64_t m, std::int64_t d, std::int64_t ldx, std::uint8_t* Q,
                           std::int64_t ldq, float* s, std::int32_t* zp) {
  const Build* b = pick(build);
  return b ? int(b->quantize_rows(X, m, d, ldx, Q, ldq, s, zp)) : -1;
}

// gemm_s32 with the weights Wq (d x k, row-major, integers in [-63, 63]) packed by the library: 0, or -1.
int emu_int8_gemm_s32(int build, const std::uint8_t* Q, std::int64_t m, std::int64_t ldq, const float* Wq,
                      std::int64_t d, std::int64_t k, std::int32_t* C, std::int64_t ldc) try {
  const Build* b = pick(build);
  if (!b) return -1;
  fastmlp::Int8Weights W;
  const std::vector<float> ones(std::size_t(k), 1.0f);
  fastmlp::pack_int8_weights<float>(Wq, ones.data(), d, k, W);
  b->gemm_s32(Q, m, ldq, W, C, ldc);
  return 0;
} catch (const std::exception&) {
  return -1;
}

// dense_rows (b may be null): 1 when every row was finite, 0 when one was not, -1 on an error.
int emu_int8_dense_rows(int build, const float* X, std::int64_t m, std::int64_t ldx, const float* Wq, const float* sw,
                        std::int64_t d, std::int64_t k, const float* bias, float* Z, std::int64_t ldz, int relu) try {
  const Build* b = pick(build);
  if (!b) return -1;
  fastmlp::Int8Weights W;
  fastmlp::pack_int8_weights<float>(Wq, sw, d, k, W);
  const auto rows = static_cast<std::size_t>(fastmlp::kInt8BlockRows);
  std::vector<std::uint8_t> Q(rows * std::size_t(W.d4));
  std::vector<float> sx(rows);
  std::vector<std::int32_t> zp(rows);
  fastmlp::Int8Scratch scratch{Q.data(), sx.data(), zp.data()};
  return int(b->dense_rows(X, m, ldx, W, bias, Z, ldz, relu != 0, scratch));
} catch (const std::exception&) {
  return -1;
}

// chain_rows of two layers, x (m x d) -> relu1? (x W1 + b1) (m x h) -> relu2? (. W2 + b2) = Z (m x k), in the
// library's blocks of rows (hidden activations in the scratch's H): 1 when every row was finite, 0 when one
// was not, -1 on an error.
int emu_int8_chain2(int build, const float* X, std::int64_t m, std::int64_t ldx, const float* Wq1, const float* s1,
                    const float* b1, std::int64_t d, std::int64_t h, int relu1, const float* Wq2, const float* s2,
                    const float* b2, std::int64_t k, int relu2, float* Z, std::int64_t ldz) try {
  const Build* b = pick(build);
  if (!b) return -1;
  fastmlp::Int8Weights W1, W2;
  fastmlp::pack_int8_weights<float>(Wq1, s1, d, h, W1);
  fastmlp::pack_int8_weights<float>(Wq2, s2, h, k, W2);
  const fastmlp::Int8Layer layers[2] = {{&W1, b1, relu1 != 0}, {&W2, b2, relu2 != 0}};
  const auto rows = static_cast<std::size_t>(fastmlp::kInt8BlockRows);
  std::vector<std::uint8_t> Q(rows * std::size_t(std::max(W1.d4, W2.d4)));
  std::vector<float> sx(rows), H(2 * rows * std::size_t(h));
  std::vector<std::int32_t> zp(rows);
  fastmlp::Int8Scratch scratch{Q.data(), sx.data(), zp.data()};
  scratch.H[0] = H.data(), scratch.H[1] = H.data() + rows * std::size_t(h);
  return int(b->chain_rows(X, m, ldx, layers, 2, Z, ldz, scratch));
} catch (const std::exception&) {
  return -1;
}

}  // extern "C"
