// The threads for the matrix products: a small pool of std::threads (no OpenMP runtime, so
// nothing to bundle in wheels, no find_dependency for C++ users, and no clash with another
// library's OpenMP in the same process). See fastmlp/threads.hpp for the chunking rule that keeps
// results bit-identical whatever the thread count.
#include "fastmlp/threads.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if !defined(_WIN32)
#include <pthread.h>
#endif

namespace fastmlp {

namespace {

constexpr int kMaxDefaultThreads = 8;

// Without set_num_threads: the cores this process may run on (at most 8), and no more than
// OMP_NUM_THREADS when it is set (joblib's and Dask's workers set it, so parallel fits do not
// oversubscribe the machine). Read once: a system call and the environment.
int default_threads() {
  static const int n = [] {
    int cores = int(std::thread::hardware_concurrency());
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = CPU_COUNT(&set);
#endif
    const char* env = std::getenv("OMP_NUM_THREADS");
    const int limit = env ? std::atoi(env) : 0;
    return std::clamp(limit > 0 ? std::min(cores, limit) : cores, 1, kMaxDefaultThreads);
  }();
  return n;
}

std::atomic<int>& threads() {
  static std::atomic<int> n{default_threads()};
  return n;
}

// cv.wait(lock, pred), through wait_until: libstdc++ 12 gives condition_variable::wait(unique_lock&)
// the symbol version GLIBCXX_3.4.30, which alone would lift the wheel built here from manylinux_2_34
// to 2_35 (wait_until on the steady clock is inline, over pthread_cond_clockwait, GLIBC_2.30).
template <class Pred>
void wait(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, Pred pred) {
  while (!pred()) cv.wait_until(lock, std::chrono::steady_clock::now() + std::chrono::seconds(10));
}

// Spin-then-sleep: a worker (and the caller waiting for the workers) polls for 200 us before it
// blocks on a condition variable. A training step runs several products with short serial work in
// between (activations, loss): waking a sleeping thread costs tens of microseconds on a VM, more than
// a batch-32 product takes, so without the spin 2 threads ran batch 32 slower than 1 thread.
// OMP_WAIT_POLICY=passive (OpenMP's name for it) turns the spin off.
std::chrono::microseconds spin_time() {
  static const auto t = [] {
    const char* env = std::getenv("OMP_WAIT_POLICY");
    const bool passive = env && (std::string(env) == "passive" || std::string(env) == "PASSIVE");
    return std::chrono::microseconds(passive ? 0 : 200);
  }();
  return t;
}

// Polls ready() for spin_time() (checking the clock every 64 polls); true when it became ready.
template <class Ready>
bool spin_until(Ready ready) {
  const auto until = std::chrono::steady_clock::now() + spin_time();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    if (std::chrono::steady_clock::now() >= until) return ready();
  }
}

// Workers 1..n-1 wait for a task (spinning, then sleeping); run() hands them one task, runs part 0 on
// the calling thread and returns when every part is done (re-throwing the first exception).
class Pool {
 public:
  // One task at a time: a caller that finds the pool busy (another thread's product) runs alone.
  bool try_run(int parts, const std::function<void(int)>& task) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    while (int(workers_.size()) < parts - 1) {
      const int index = int(workers_.size()) + 1;
      workers_.emplace_back([this, index] { work(index); });
    }
    {
      // Under the mutex, so that a worker about to sleep sees the new generation (no lost wake-up).
      std::lock_guard<std::mutex> lock(m_);
      task_ = &task;
      parts_ = parts;
      pending_.store(parts - 1, std::memory_order_relaxed);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    std::exception_ptr error;
    try {
      task(0);
    } catch (...) {
      error = std::current_exception();
    }
    const auto done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
    if (!spin_until(done)) {
      std::unique_lock<std::mutex> lock(m_);
      wait(done_, lock, done);
    }
    // A worker stores error_ before its release of pending_, which the acquire in done() saw.
    if (!error) error = error_;
    if (error) std::rethrow_exception(error);
    return true;
  }

  // Stops the workers numbered above `keep` and waits for them to end (set_num_threads lowered the
  // count). They see a new generation that has no part for anyone and keep_ below their index.
  void shrink(int keep) {
    std::lock_guard<std::mutex> busy(busy_);  // no task is running meanwhile
    if (int(workers_.size()) <= keep) return;
    {
      std::lock_guard<std::mutex> lock(m_);
      keep_ = keep;
      parts_ = 0;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (std::size_t i = std::size_t(keep); i < workers_.size(); ++i) workers_[i].join();
    workers_.resize(std::size_t(keep));
    std::lock_guard<std::mutex> lock(m_);
    keep_ = INT_MAX;
  }

 private:
  void work(int index) {
    unsigned long seen = 0;
    for (;;) {
      const auto fresh = [&] { return generation_.load(std::memory_order_acquire) != seen; };
      const bool spun = spin_until(fresh);
      std::unique_lock<std::mutex> lock(m_);
      if (!spun) wait(wake_, lock, fresh);
      // The generation, parts and task as one snapshot (try_run writes them together under m_): read
      // one by one, a worker descheduled between the reads could pair this generation with the next
      // task and run it twice.
      seen = generation_.load(std::memory_order_relaxed);
      if (index > keep_) return;  // shrink()
      if (index >= parts_) continue;
      const std::function<void(int)>* task = task_;
      lock.unlock();
      std::exception_ptr error;
      try {
        (*task)(index);
      } catch (...) {
        error = std::current_exception();
      }
      if (error) {
        std::lock_guard<std::mutex> lock(m_);
        if (!error_) error_ = error;
      }
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(m_);  // the caller checks pending_ under m_ before it sleeps
        done_.notify_one();
      }
    }
  }

  std::mutex busy_;  // held by the caller of the running task
  std::mutex m_;     // guards task_, parts_, error_, the sleeping, and the writes of generation_
  std::condition_variable wake_, done_;
  std::atomic<unsigned long> generation_{0};  // atomic: workers spin on it without m_
  const std::function<void(int)>* task_ = nullptr;
  int parts_ = 0;
  int keep_ = INT_MAX;           // workers numbered above it end (shrink)
  std::atomic<int> pending_{0};  // atomic: the caller spins on it without m_
  std::exception_ptr error_;
  std::vector<std::thread> workers_;
};

// The process's pool. Never destroyed: its threads sleep until the process ends. A child made by
// fork() has none of the parent's threads, so it gets a pool of its own (the parent's is left alone):
// an atfork handler forgets the pointer in the child. (Not getpid() on every product: it is a system
// call, ~0.1 us, once per parallel product.)
std::atomic<Pool*> the_pool{nullptr};

Pool& pool() {
  if (Pool* p = the_pool.load(std::memory_order_acquire)) return *p;
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  Pool* p = the_pool.load(std::memory_order_relaxed);
  if (!p) {
#if !defined(_WIN32)
    static const int forget_in_child =
        pthread_atfork(nullptr, nullptr, [] { the_pool.store(nullptr, std::memory_order_relaxed); });
    (void)forget_in_child;
#endif
    p = new Pool();
    the_pool.store(p, std::memory_order_release);
  }
  return *p;
}

thread_local bool in_parallel_region = false;
thread_local double min_flops = kParallelMinFlops;  // lowered by ReadOnlyProducts

}  // namespace

int get_num_threads() { return threads().load(std::memory_order_relaxed); }

int max_num_threads() { return std::max(64, 4 * int(std::thread::hardware_concurrency())); }

void set_num_threads(int n) {
  if (n < 1 || n > max_num_threads())
    throw std::invalid_argument("num_threads must be in [1, " + std::to_string(max_num_threads()) +
                                "] (max(64, 4 x the hardware threads)), got " + std::to_string(n));
  threads().store(n);
  if (Pool* p = the_pool.load(std::memory_order_acquire)) p->shrink(n - 1);  // worker 0 is the caller
}

ReadOnlyProducts::ReadOnlyProducts() : saved_(min_flops) { min_flops = std::min(min_flops, kParallelMinFlopsReadOnly); }
ReadOnlyProducts::~ReadOnlyProducts() { min_flops = saved_; }

CallerThreadOnly::CallerThreadOnly() : saved_(in_parallel_region) { in_parallel_region = true; }
CallerThreadOnly::~CallerThreadOnly() { in_parallel_region = saved_; }

void parallel_for(Index N, double flops, Index align, FunctionRef<void(Index, Index)> fn) {
  const Index groups = (N + align - 1) / align;
  const int nt = int(std::min<Index>(get_num_threads(), groups));
  if (nt <= 1 || flops < min_flops || in_parallel_region) {
    fn(0, N);
    return;
  }
  // Equal shares of whole `align`-wide column groups, part t on thread t.
  const std::function<void(int)> part = [&](int t) {
    const Index g0 = groups * t / nt, g1 = groups * (t + 1) / nt;
    const Index j0 = std::min(N, g0 * align), j1 = std::min(N, g1 * align);
    if (j1 <= j0) return;
    in_parallel_region = true;
    try {
      fn(j0, j1);
    } catch (...) {
      in_parallel_region = false;
      throw;
    }
    in_parallel_region = false;
  };
  if (!pool().try_run(nt, part)) fn(0, N);
}

}  // namespace fastmlp
