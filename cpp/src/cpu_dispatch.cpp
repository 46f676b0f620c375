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

namespace fastmlp {

#define FASTMLP_DECLARE_KERNELS(ns)                                                                              \
  namespace ns {                                                                                                 \
  template <class T>                                                                                             \
  void gemm(bool, bool, Index, Index, Index, T, const T*, Index, const T*, Index, T, T*, Index);                \
  const char* gemm_isa();                                                                                        \
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

struct Kernels {
  const char* level;  // "v2", "v3", "v4", "generic"
  const char* (*isa)();
  Gemm<float> sgemm;
  Gemm<double> dgemm;
};

#define FASTMLP_KERNELS(level, ns) Kernels{level, &ns::gemm_isa, &ns::gemm<float>, &ns::gemm<double>}
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

bool cpu_runs_level(const std::string& level) {
  if (level == kBase) return true;
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
  __builtin_cpu_init();
#if !defined(__clang__) && __GNUC__ >= 12 || defined(__clang__) && __clang_major__ >= 19
  if (level == "v3") return __builtin_cpu_supports("x86-64-v3") > 0;
  if (level == "v4") return __builtin_cpu_supports("x86-64-v4") > 0;
#else  // older compilers: the features the kernels are compiled with (checks the OS's AVX state too)
  const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                  __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c");
  if (level == "v3") return v3;
  if (level == "v4")
    return v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
#endif
#endif
  return false;
}

const char* simd_level() { return kernels().level; }

std::vector<std::string> simd_levels_built() {
  std::vector<std::string> out;
  for (const auto& k : kBuilt) out.push_back(std::string(k.level) == "generic" ? "generic" : std::string("x86-64-") + k.level);
  return out;
}

const char* gemm_isa() { return kernels().isa(); }

template <class T>
void gemm(bool ta, bool tb, Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb,
          T beta, T* C, Index ldc) {
  if constexpr (std::is_same_v<T, float>)
    kernels().sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    kernels().dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template void gemm<float>(bool, bool, Index, Index, Index, float, const float*, Index, const float*, Index, float,
                          float*, Index);
template void gemm<double>(bool, bool, Index, Index, Index, double, const double*, Index, const double*, Index,
                           double, double*, Index);

}  // namespace fastmlp
