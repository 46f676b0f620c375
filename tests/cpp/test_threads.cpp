// The products' thread pool (threads.cpp): parts really run on distinct threads, exceptions reach
// the caller, concurrent callers and a forked child get correct results, and a product's result is
// bit-identical with 1, 2 or 3 threads.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "check.hpp"
#include "fastmlp/fastmlp.hpp"

using namespace fastmlp;

namespace {

constexpr double kBig = 1e9;  // flops: above the one-thread cut-off

void parts_run_on_distinct_threads() {
  set_num_threads(3);
  std::mutex m;
  std::set<std::thread::id> ids;
  std::vector<int> seen(300, 0);
  parallel_for(300, kBig, 10, [&](Index j0, Index j1) {
    std::lock_guard<std::mutex> lock(m);
    ids.insert(std::this_thread::get_id());
    for (Index j = j0; j < j1; ++j) ++seen[j];
    CHECK(j0 % 10 == 0);
  });
  CHECK(ids.size() == 3);
  for (int v : seen) CHECK(v == 1);
  ids.clear();
  parallel_for(300, 1e3, 10, [&](Index, Index) { ids.insert(std::this_thread::get_id()); });
  CHECK(ids.size() == 1 && *ids.begin() == std::this_thread::get_id());  // small: on the caller
}

void an_exception_reaches_the_caller() {
  set_num_threads(2);
  CHECK_THROWS(parallel_for(100, kBig, 1,
                            [](Index j0, Index) {
                              if (j0 > 0) throw std::runtime_error("in a worker");
                            }),
               std::runtime_error);
  int calls = 0;  // the pool still works afterwards
  std::mutex m;
  parallel_for(100, kBig, 1, [&](Index, Index) {
    std::lock_guard<std::mutex> lock(m);
    ++calls;
  });
  CHECK(calls == 2);
}

std::vector<float> product(int threads) {
  set_num_threads(threads);
  const Index M = 96, N = 500, K = 300;
  std::vector<float> A(M * K), B(K * N), C(M * N);
  for (Index i = 0; i < M * K; ++i) A[i] = float((i * 7919) % 1000) / 997.f - 0.5f;
  for (Index i = 0; i < K * N; ++i) B[i] = float((i * 104729) % 1000) / 991.f - 0.5f;
  gemm<float>(false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N);
  return C;
}

void products_are_bit_identical_with_1_2_3_threads() {
  const auto one = product(1);
  CHECK(product(2) == one);
  CHECK(product(3) == one);
}

void concurrent_callers_get_the_same_result() {
  const auto one = product(1);
  set_num_threads(2);
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int r = 0; r < 5; ++r)
        if (product(2) != one) ++wrong;
    });
  for (auto& c : callers) c.join();
  CHECK(wrong == 0);
}

void a_forked_child_has_working_threads() {
  const auto one = product(2);  // the parent's pool exists now
  const pid_t pid = fork();
  if (pid == 0) {
    std::set<std::thread::id> ids;
    std::mutex m;
    parallel_for(100, kBig, 1, [&](Index, Index) {
      std::lock_guard<std::mutex> lock(m);
      ids.insert(std::this_thread::get_id());
    });
    _exit(product(2) == one && ids.size() == 2 ? 0 : 1);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// Back-to-back tasks with changing part counts (threads 2..4, and N limiting them): every part of
// every task runs exactly once. Workers that sit a task out must not pair its generation with the
// next task's parts (they read both as one snapshot).
void every_part_runs_once_across_back_to_back_tasks() {
  std::vector<std::atomic<int>> runs(4);
  int wrong = 0;
  for (int r = 0; r < 20000; ++r) {
    set_num_threads(2 + r % 3);
    const Index N = 1 + r % 4;  // 1..4 parts of one column each
    for (auto& c : runs) c = 0;
    parallel_for(N, kBig, 1, [&](Index j0, Index j1) {
      for (Index j = j0; j < j1; ++j) ++runs[std::size_t(j)];
    });
    for (Index j = 0; j < 4; ++j) wrong += runs[std::size_t(j)] != (j < N ? 1 : 0);
  }
  CHECK(wrong == 0);
}

}  // namespace

int main() {
  RUN(parts_run_on_distinct_threads);
  RUN(an_exception_reaches_the_caller);
  RUN(products_are_bit_identical_with_1_2_3_threads);
  RUN(concurrent_callers_get_the_same_result);
  RUN(a_forked_child_has_working_threads);
  RUN(every_part_runs_once_across_back_to_back_tasks);
  std::printf("%d checks, %d failed\n", check::checks, check::failures);
  return check::failures ? 1 : 0;
}
