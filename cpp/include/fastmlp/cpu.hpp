// Run-time choice of the SIMD kernels. libfastmlp is compiled for the x86-64 baseline (it runs on
// any x86-64 CPU) and carries the GEMM kernels once more for each higher level (x86-64-v3: AVX2/FMA,
// x86-64-v4: AVX-512). The first call that needs a kernel picks the best level this CPU and OS
// run, once per process; the environment variable FASTMLP_ARCH=v2|v3|v4 (or x86-64-v3, ...) forces
// one. Level "v2" is the portable build (Eigen's GEMM, baseline SSE2 code): it runs everywhere.
// On other architectures there is one level, "generic".
#pragma once

#include <string>
#include <vector>

namespace fastmlp {

// The level in use ("v4", "v3", "v2" or "generic"). Throws std::invalid_argument when FASTMLP_ARCH
// names a level this build lacks or this CPU cannot run (every later call throws the same).
const char* simd_level();

// The levels this library carries, lowest first ("x86-64-v2", "x86-64-v3", "x86-64-v4").
std::vector<std::string> simd_levels_built();

// Whether this CPU (and OS) runs code built for a level ("v2", "v3", "v4", "generic").
bool cpu_runs_level(const std::string& level);

}  // namespace fastmlp
