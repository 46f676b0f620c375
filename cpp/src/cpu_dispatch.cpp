// fastmlp::gemm and fastmlp::gemm_isa: forwarded to the build of gemm.cpp for the SIMD level picked
// once per process (see fastmlp/cpu.hpp). This file is compiled without -march flags, like the rest
// of the core; only gemm.cpp is compiled once per level (CMakeLists.txt passes FASTMLP_KERNELS_V3/V4
// for the levels it built).
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "fastmlp/cpu.hpp"
#include "fastmlp/gemm.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace fastmlp {

#define FASTMLP_DECLARE_KERNELS(ns)                                                              \
  namespace ns {                                                                                 \
  template <class T>                                                                             \
  void gemm(bool, bool, Index, Index, Index, T, const T*, Index, const T*, Index, T, T*, Index); \
  template <class T>                                                                             \
  void sgd_rank1(Index, Index, T, T, const T*, const T*, T*, Index, T*);                         \
  template <class T>                                                                             \
  bool rows_finite(const T*, Index, Index, Index);                                               \
  const char* gemm_isa();                                                                        \
  }
FASTMLP_DECLARE_KERNELS(kernels_base)
#ifdef FASTMLP_KERNELS_V3
FASTMLP_DECLARE_KERNELS(kernels_v3)
#endif
#ifdef FASTMLP_KERNELS_V4
FASTMLP_DECLARE_KERNELS(kernels_v4)
#endif
#undef FASTMLP_DECLARE_KERNELS

namespace {

template <class T>
using Gemm = void (*)(bool, bool, Index, Index, Index, T, const T*, Index, const T*, Index, T, T*, Index);

template <class T>
using Rank1 = void (*)(Index, Index, T, T, const T*, const T*, T*, Index, T*);

template <class T>
using Finite = bool (*)(const T*, Index, Index, Index);

struct Kernels {
  const char* level;  // "v2", "v3", "v4", "generic"
  const char* (*isa)();
  Gemm<float> sgemm;
  Gemm<double> dgemm;
  Rank1<float> srank1;
  Rank1<double> drank1;
  Finite<float> sfinite;
  Finite<double> dfinite;
};

#define FASTMLP_KERNELS(level, ns)                                                                            \
  Kernels {                                                                                                   \
    level, &ns::gemm_isa, &ns::gemm<float>, &ns::gemm<double>, &ns::sgd_rank1<float>, &ns::sgd_rank1<double>, \
        &ns::rows_finite<float>, &ns::rows_finite<double>                                                     \
  }
#if defined(__x86_64__) || defined(_M_X64)
constexpr const char* kBase = "v2";
#else
constexpr const char* kBase = "generic";
#endif
// Lowest level first.
const Kernels kBuilt[] = {
    FASTMLP_KERNELS(kBase, kernels_base),
#ifdef FASTMLP_KERNELS_V3
    FASTMLP_KERNELS("v3", kernels_v3),
#endif
#ifdef FASTMLP_KERNELS_V4
    FASTMLP_KERNELS("v4", kernels_v4),
#endif
};
#undef FASTMLP_KERNELS

std::string built_list() {
  std::string s;
  for (const auto& k : kBuilt) s += std::string(s.empty() ? "" : ", ") + k.level;
  return s;
}

const Kernels& pick() {
  if (const char* forced = std::getenv("FASTMLP_ARCH"); forced && *forced) {
    std::string want = forced;
    if (want.rfind("x86-64-", 0) == 0) want = want.substr(7);
    for (const auto& k : kBuilt) {
      if (want != k.level) continue;
      if (!cpu_runs_level(want))
        throw std::invalid_argument("FASTMLP_ARCH='" + std::string(forced) + "': this CPU does not run that level");
      return k;
    }
    throw std::invalid_argument("FASTMLP_ARCH='" + std::string(forced) + "': this build has " + built_list());
  }
  for (auto k = std::end(kBuilt); k != std::begin(kBuilt);)
    if (cpu_runs_level((--k)->level)) return *k;
  return kBuilt[0];  // the portable build runs everywhere
}

const Kernels& kernels() {
  static const Kernels& k = pick();  // a throw leaves it unset: the next call tries (and throws) again
  return k;
}

}  // namespace

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
namespace {

// The x86-64 psABI levels from CPUID, with the OS's consent to the AVX / AVX-512 register state
// (XGETBV). Read directly rather than through __builtin_cpu_supports, so that it works the same
// with every compiler and runtime (gcc, clang, zig's clang for the manylinux wheels).
struct CpuLevels {
  bool v2 = false, v3 = false, v4 = false;
};

CpuLevels read_cpu_levels() {
  CpuLevels out;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return out;
  const unsigned c1 = c;
  auto bit = [](unsigned reg, int n) { return ((reg >> n) & 1u) != 0; };
  unsigned b7 = 0, c81 = 0;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    b7 = b;
  }
  if (__get_cpuid_max(0x80000000u, nullptr) >= 0x80000001u) {
    __cpuid(0x80000001u, a, b, c, d);
    c81 = c;
  }
  // v2: SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B, LAHF/SAHF
  out.v2 = bit(c1, 0) && bit(c1, 9) && bit(c1, 19) && bit(c1, 20) && bit(c1, 23) && bit(c1, 13) && bit(c81, 0);
  unsigned long long xcr0 = 0;
  if (bit(c1, 27)) {  // OSXSAVE: XGETBV may be used
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<unsigned long long>(hi) << 32) | lo;
  }
  const bool avx_state = (xcr0 & 0x6) == 0x6, avx512_state = (xcr0 & 0xe6) == 0xe6;
  // v3: AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE
  out.v3 = out.v2 && avx_state && bit(c1, 28) && bit(b7, 5) && bit(b7, 3) && bit(b7, 8) && bit(c1, 29) && bit(c1, 12) &&
           bit(c81, 5) && bit(c1, 22);
  // v4: AVX-512 F, BW, CD, DQ, VL
  out.v4 = out.v3 && avx512_state && bit(b7, 16) && bit(b7, 30) && bit(b7, 28) && bit(b7, 17) && bit(b7, 31);
  return out;
}

}  // namespace
#endif

bool cpu_runs_level(const std::string& level) {
  if (level == kBase) return true;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const CpuLevels cpu = read_cpu_levels();
  if (level == "v2") return cpu.v2;
  if (level == "v3") return cpu.v3;
  if (level == "v4") return cpu.v4;
#endif
  return false;
}

const char* simd_level() { return kernels().level; }

std::vector<std::string> simd_levels_built() {
  std::vector<std::string> out;
  for (const auto& k : kBuilt)
    out.push_back(std::string(k.level) == "generic" ? "generic" : std::string("x86-64-") + k.level);
  return out;
}

const char* gemm_isa() { return kernels().isa(); }

template <class T>
void gemm(bool ta, bool tb, Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb, T beta,
          T* C, Index ldc) {
  if constexpr (std::is_same_v<T, float>)
    kernels().sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    kernels().dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void sgd_rank1(Index d, Index k, T s, T alpha, const T* x, const T* y, T* W, Index ldw, T* dx) {
  if constexpr (std::is_same_v<T, float>)
    kernels().srank1(d, k, s, alpha, x, y, W, ldw, dx);
  else
    kernels().drank1(d, k, s, alpha, x, y, W, ldw, dx);
}

template <class T>
bool rows_finite(const T* X, Index rows, Index cols, Index ld) {
  if constexpr (std::is_same_v<T, float>)
    return kernels().sfinite(X, rows, cols, ld);
  else
    return kernels().dfinite(X, rows, cols, ld);
}

template bool rows_finite<float>(const float*, Index, Index, Index);
template bool rows_finite<double>(const double*, Index, Index, Index);
template void sgd_rank1<float>(Index, Index, float, float, const float*, const float*, float*, Index, float*);
template void sgd_rank1<double>(Index, Index, double, double, const double*, const double*, double*, Index, double*);
template void gemm<float>(bool, bool, Index, Index, Index, float, const float*, Index, const float*, Index, float,
                          float*, Index);
template void gemm<double>(bool, bool, Index, Index, Index, double, const double*, Index, const double*, Index, double,
                           double*, Index);

}  // namespace fastmlp
