// The mixed bfloat16 product (gemm_bf16.hpp): the emulated path, the kernel's choice, the CPUID check.
//
// Emulated: each operand, as stored (with its row stride), is rounded into a thread_local scratch copy
// (contiguous rows), and the float32 GEMM of the level in use multiplies the copies. Since every
// product of two bfloat16 values is exact in float32, this gives the numbers of a bf16 x bf16 -> f32
// kernel that accumulates in the float32 kernel's order. The copies cost one read and one write of
// each operand per product: on the bench net (784-256-128-10) training runs at 0.86-0.92x float32's
// samples/s at batch 128 / 512 / 2048 (AMD EPYC Zen 3, one core, two runs, bench/RESULTS_BF16.md);
// hence the warning Python gives once.
#include "fastmlp/gemm_bf16.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastmlp/cpu.hpp"
#include "fastmlp/gemm.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define FASTMLP_BF16_X86 1
#else
#define FASTMLP_BF16_X86 0
#endif

namespace fastmlp {

#ifdef FASTMLP_KERNEL_AVX512_BF16
// gemm_bf16_avx512.cpp: vdpbf16ps; only called where cpu_has_avx512_bf16() and the level is v4.
// at_out (not trans_a): A's words also written as op(A) = A^T's; at_in (trans_a): op(A)'s words, given.
void gemm_bf16_avx512(bool trans_a, bool trans_b, Index M, Index N, Index K, float alpha, const float* A, Index lda,
                      const float* B, Index ldb, float beta, float* C, Index ldc, std::uint32_t* at_out = nullptr,
                      const std::uint32_t* at_in = nullptr, bool* a_finite = nullptr);
#endif

namespace {

// bf16_round of n floats (bf16_round_word: branch-free, so that the compiler vectorizes the loop).
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
inline void round_loop(const float* x, float* y, Index n) {
  for (Index i = 0; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, x + i, sizeof u);
    const std::uint32_t r = bf16_round_word(u);
    std::memcpy(y + i, &r, sizeof r);
  }
}

#if FASTMLP_BF16_X86
// The same loop in AVX2 (8 lanes): the pass is bound by memory, but the baseline's SSE2 has no
// unsigned compare and runs it at half the width. (Written with intrinsics, it measured 0-5% slower than
// the compiler's code on a Zen 3 core.)
__attribute__((target("avx2"))) void round_loop_avx2(const float* x, float* y, Index n) { round_loop(x, y, n); }
#endif

bool level_runs_avx2() {
  const std::string level = simd_level();
  return level == "v3" || level == "v4";
}

// A stored rows x cols matrix (row stride ld) rounded into `buf`, contiguous (stride cols).
const float* rounded(const float* X, Index rows, Index cols, Index ld, std::vector<float>& buf) {
  buf.resize(std::size_t(rows * cols));
  for (Index r = 0; r < rows; ++r) round_to_bf16(X + r * ld, buf.data() + r * cols, cols);
  return buf.data();
}

bool cpu_is_amd() {
#if FASTMLP_BF16_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return false;
  return b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;  // "Auth" "enti" "cAMD"
#else
  return false;
#endif
}

struct Choice {
  const char* kernel;
  std::string why;  // empty for the native kernel
};

// The rule of gemm_bf16.hpp ("Kernels"), with FASTMLP_BF16's override.
Choice pick_kernel() {
  const char* forced = std::getenv("FASTMLP_BF16");
  const std::string want = forced ? forced : "";
  if (!want.empty() && want != "emulated" && want != "avx512_bf16")
    throw std::invalid_argument("FASTMLP_BF16='" + want + "': expected 'avx512_bf16' or 'emulated' (or unset)");
  const std::string isa = gemm_isa(), level = simd_level();
  const char* emulated = isa == "avx512" ? "emulated (avx512)" : isa == "avx2" ? "emulated (avx2)" : "emulated (eigen)";
  std::string why;
  bool can_run = false;
#ifdef FASTMLP_KERNEL_AVX512_BF16
  if (!cpu_has_avx512_bf16())
    why = "this CPU has no AVX512_BF16 instructions (CPUID avx512_bf16)";
  else if (level != "v4")
    why = "this CPU has AVX512_BF16, but the SIMD level in use is " + level + ", not v4 (FASTMLP_ARCH)";
  else
    can_run = true;
#else
  why = "this build of fastmlp has no AVX512_BF16 kernel (not an x86-64 build with AVX-512 support)";
#endif
  if (want == "avx512_bf16") {
    if (!can_run) throw std::invalid_argument("FASTMLP_BF16='avx512_bf16': " + why);
    return {"avx512_bf16", ""};
  }
  if (want == "emulated") return {emulated, "FASTMLP_BF16='emulated' asks for the emulated path"};
  if (can_run && cpu_is_amd()) return {"avx512_bf16", ""};
  if (can_run)
    why =
        "this CPU has AVX512_BF16, but its vdpbf16ps kernel runs by default only on AMD CPUs (Zen 4+), "
        "where bf16 products run at about twice float32's rate (elsewhere that rate is unmeasured: LLVM's "
        "Sapphire Rapids model gives vdpbf16ps half of float32's; FASTMLP_BF16='avx512_bf16' forces it)";
  return {emulated, why};
}

const Choice& choice() {
  static const Choice c = pick_kernel();
  return c;
}

}  // namespace

void round_to_bf16(const float* x, float* y, Index n) {
#if FASTMLP_BF16_X86
  static const bool avx2 = level_runs_avx2();
  if (avx2) return round_loop_avx2(x, y, n);
#endif
  round_loop(x, y, n);
}

bool cpu_has_avx512_bf16() {
#if FASTMLP_BF16_X86
  if (!cpu_runs_level("v4") || __get_cpuid_max(0, nullptr) < 7) return false;  // AVX-512 F/BW/VL and its state
  unsigned a, b, c, d;
  __cpuid_count(7, 0, a, b, c, d);
  if (a < 1) return false;  // no sub-leaf 1
  __cpuid_count(7, 1, a, b, c, d);
  return ((a >> 5) & 1u) != 0;  // AVX512_BF16
#else
  return false;
#endif
}

const char* bf16_kernel() { return choice().kernel; }

const char* bf16_kernel_why() { return choice().why.c_str(); }

void gemm_bf16_emulated(bool ta, bool tb, Index M, Index N, Index K, float alpha, const float* A, Index lda,
                        const float* B, Index ldb, float beta, float* C, Index ldc) {
  if (M == 0 || N == 0 || K == 0) return gemm<float>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  thread_local std::vector<float> a_buf, b_buf;
  const Index a_cols = ta ? M : K, b_cols = tb ? K : N;
  const float* Ar = rounded(A, ta ? K : M, a_cols, lda, a_buf);
  const float* Br = rounded(B, tb ? N : K, b_cols, ldb, b_buf);
  gemm<float>(ta, tb, M, N, K, alpha, Ar, a_cols, Br, b_cols, beta, C, ldc);
}

namespace {

using Kernel = void (*)(bool, bool, Index, Index, Index, float, const float*, Index, const float*, Index, float, float*,
                        Index);

// The kernels copy (round or pack) whole operands; a product with many rows (a forward pass over a large
// X) or a long K (a weight gradient over a large batch) runs in slices of kRows, so that the copies stay
// bounded (16 MB for 1024 columns) instead of growing with the data. Slices are deterministic.
constexpr Index kRows = 4096;

void in_slices(Kernel kernel, bool ta, bool tb, Index M, Index N, Index K, float alpha, const float* A, Index lda,
               const float* B, Index ldb, float beta, float* C, Index ldc) {
  if (!ta && M > kRows) {  // rows of C from rows of A
    for (Index i = 0; i < M; i += kRows)
      kernel(ta, tb, std::min(kRows, M - i), N, K, alpha, A + i * lda, lda, B, ldb, beta, C + i * ldc, ldc);
  } else if (ta && !tb && K > kRows) {  // C = sum over slices of K (rows of both stored operands)
    for (Index p = 0; p < K; p += kRows)
      kernel(ta, tb, M, N, std::min(kRows, K - p), alpha, A + p * lda, lda, B + p * ldb, ldb, p == 0 ? beta : 1.0f, C,
             ldc);
  } else {
    kernel(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}

#ifdef FASTMLP_KERNEL_AVX512_BF16
bool native_kernel() {
  static const bool native = std::string(bf16_kernel()) == "avx512_bf16";
  return native;
}
#endif

}  // namespace

void gemm_bf16(bool ta, bool tb, Index M, Index N, Index K, float alpha, const float* A, Index lda, const float* B,
               Index ldb, float beta, float* C, Index ldc) {
  Kernel kernel = &gemm_bf16_emulated;
#ifdef FASTMLP_KERNEL_AVX512_BF16
  if (native_kernel())
    kernel = [](bool ta, bool tb, Index M, Index N, Index K, float alpha, const float* A, Index lda, const float* B,
                Index ldb, float beta, float* C,
                Index ldc) { gemm_bf16_avx512(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); };
#endif
  in_slices(kernel, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

bool gemm_bf16_keeps(Index M) {
#ifdef FASTMLP_KERNEL_AVX512_BF16
  return native_kernel() && M <= kRows;
#else
  (void)M;
  return false;
#endif
}

void gemm_bf16_keep(Index M, Index N, Index K, float alpha, const float* A, Index lda, const float* B, Index ldb,
                    float beta, float* C, Index ldc, Bf16Input& keep, bool* finite) {
  keep.x = nullptr;
#ifdef FASTMLP_KERNEL_AVX512_BF16
  if (gemm_bf16_keeps(M) && M > 0 && N > 0 && K > 0) {
    const std::size_t words = std::size_t((K + 7) / 8 * ((M + 1) / 2) * 8);
    if (keep.words.size() < words) keep.words.resize(words);  // every word is written: never zeroed
    gemm_bf16_avx512(false, false, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, keep.words.data(), nullptr, finite);
    keep.x = A, keep.m = M, keep.d = K, keep.ld = lda;
    return;
  }
#endif
  if (finite) *finite = rows_finite(A, M, K, lda);
  gemm_bf16(false, false, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_bf16_kept(Index M, Index N, Index K, float alpha, const float* A, Index lda, const float* B, Index ldb,
                    float beta, float* C, Index ldc, const Bf16Input& kept) {
#ifdef FASTMLP_KERNEL_AVX512_BF16
  if (kept.x && kept.x == A && kept.m == K && kept.d == M && kept.ld == lda && native_kernel())
    return gemm_bf16_avx512(true, false, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nullptr, kept.words.data());
#endif
  gemm_bf16(true, false, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace fastmlp
