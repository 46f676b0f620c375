#include "fastmlp/threads.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

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

namespace {

// Helper threads for parallel_columns. The calling thread takes column chunks from a shared counter
// too, and waits only for chunks a helper has actually taken: a helper that the OS has not run yet
// (a busy machine) costs nothing, it finds no chunk left. An OpenMP team instead waits at its
// closing barrier for every member, which made 2 threads several times slower than 1 whenever the
// other core was busy. Which thread computes a chunk never changes its arithmetic.
class Pool {
 public:
  using Fn = std::function<void(Index, Index)>;

  // Runs fn over `chunks` column ranges [N * c / chunks aligned ...) with up to `helpers` helpers;
  // false if another thread is using the pool (the caller then runs alone).
  bool run(Index N, Index align, Index chunks, int helpers, const Fn& fn) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    std::uint32_t gen;
    {
      std::lock_guard<std::mutex> lk(m_);
      while (int(threads_.size()) < helpers) {
        const int id = int(threads_.size());
        threads_.emplace_back([this, id] { helper(id); });
        threads_.back().detach();
      }
      gen = ++gen_;
      job_ = Job{&fn, N, align, chunks, helpers};
      done_.store(0, std::memory_order_relaxed);
      next_.store(std::uint64_t(gen) << 32, std::memory_order_release);
    }
    cv_.notify_all();
    work(job_, gen);
    while (done_.load(std::memory_order_acquire) < chunks) std::this_thread::yield();
    return true;
  }

 private:
  struct Job {
    const Fn* fn = nullptr;
    Index N = 0, align = 1, chunks = 0;
    int helpers = 0;
  };

  // Takes chunks of job `gen` until none is left (or a newer job has replaced it).
  void work(const Job& j, std::uint32_t gen) {
    const Index groups = (j.N + j.align - 1) / j.align;
    for (;;) {
      std::uint64_t cur = next_.load(std::memory_order_acquire);
      if (std::uint32_t(cur >> 32) != gen || Index(cur & 0xffffffffu) >= j.chunks) return;
      if (!next_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel)) continue;
      const Index c = Index(cur & 0xffffffffu);
      const Index j0 = std::min(j.N, groups * c / j.chunks * j.align);
      const Index j1 = std::min(j.N, groups * (c + 1) / j.chunks * j.align);
      if (j1 > j0) (*j.fn)(j0, j1);
      done_.fetch_add(1, std::memory_order_release);
    }
  }

  void helper(int id) {
    std::uint32_t seen = 0;
    for (;;) {
      Job j;
      std::uint32_t gen;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return gen_ != seen; });
        seen = gen = gen_;
        j = job_;
      }
      if (id < j.helpers) work(j, gen);
    }
  }

  std::mutex busy_, m_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;  // detached; live as long as the process
  std::uint32_t gen_ = 0;             // guarded by m_
  Job job_;                           // guarded by m_
  std::atomic<std::uint64_t> next_{0};  // (generation << 32) | next chunk
  std::atomic<Index> done_{0};
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: detached helpers may outlive static destructors
  return *p;
}

}  // namespace

void parallel_columns(Index N, double flops, Index align, const std::function<void(Index, Index)>& fn) {
  const Index groups = (N + align - 1) / align;
  const int nt = int(std::min<Index>(get_num_threads(), groups));
  if (nt <= 1 || flops < kParallelMinFlops) {
    fn(0, N);
    return;
  }
  // Two chunks per thread (whole `align`-wide groups): a late helper leaves less to the caller.
  if (!pool().run(N, align, std::min<Index>(groups, 2 * Index(nt)), nt - 1, fn)) fn(0, N);
}

}  // namespace fastmlp
