#include "fastmlp/threads.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

namespace fastmlp {

namespace {

// Without set_num_threads: the cores this process may run on (at most 8), and no more than
// OpenMP's own limit, which follows OMP_NUM_THREADS and threadpoolctl / joblib's limits (so
// parallel workers of a grid search do not oversubscribe the machine).
int default_threads() {
#ifdef _OPENMP
  static const int cores = [] {  // once: a system call
    int n = int(std::thread::hardware_concurrency());
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
#endif
    return n;
  }();
  return std::clamp(std::min(cores, omp_get_max_threads()), 1, 8);  // the OpenMP limit: a read, per call
#else
  return 1;
#endif
}

std::atomic<int>& threads() {  // 0: not set, follow default_threads()
  static std::atomic<int> n{0};
  return n;
}

}  // namespace

int get_num_threads() {
  const int n = threads().load(std::memory_order_relaxed);
  return n > 0 ? n : default_threads();
}

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("num_threads must be >= 1, got " + std::to_string(n));
#ifdef _OPENMP
  threads().store(n);
#endif
}

void parallel_columns(Index N, double flops, Index align, const std::function<void(Index, Index)>& fn) {
  const Index chunks_max = (N + align - 1) / align;
  const int nt = int(std::min<Index>(get_num_threads(), chunks_max));
  if (nt <= 1 || flops < kParallelMinFlops) {
    fn(0, N);
    return;
  }
#ifdef _OPENMP
  // Equal shares of whole `align`-wide column groups.
  const Index groups = chunks_max;
#pragma omp parallel num_threads(nt)
  {
    const Index t = omp_get_thread_num(), n = omp_get_num_threads();
    const Index g0 = groups * t / n, g1 = groups * (t + 1) / n;
    const Index j0 = std::min(N, g0 * align), j1 = std::min(N, g1 * align);
    if (j1 > j0) fn(j0, j1);
  }
#else
  fn(0, N);
#endif
}

}  // namespace fastmlp
