// Two versions of the AVX512_BF16 kernel (cpp/src/gemm_bf16_avx512.cpp) timed against each other in one
// process, product by product, the calls alternating (n calls of A, n of B, 15 times by default): on a
// shared host a slow moment hits both, and the median of the 15 ratios B / A is the figure to read
// (bench_bf16_gemm.py's separate runs drift by 5-10% from one minute to the next on the same code).
// The shapes are bench_bf16_gemm.py's: the nine training products of 784-256-128-10 at batch 128, 512,
// 2048; every operand 64-byte aligned (the network's buffers are). Thread CPU time, one thread. Both
// versions' outputs are compared first ("BITS DIFFER" when they are not the same floats).
//
// Build from the repository root, the old version from git (the copy must include the pack header it
// was written with; the new one is the working tree's), then run pinned:
//
//   git show REV:cpp/src/gemm_bf16_avx512.cpp > /tmp/old.cpp     # and its pack header, if it changed
//   c++ -O3 -DNDEBUG -std=gnu++17 -DKERNEL_A='"/tmp/old.cpp"' -DKERNEL_B='"../cpp/src/gemm_bf16_avx512.cpp"' \
//       -Icpp/include -Icpp/src -isystem EIGEN_DIR bench/bf16_ab.cpp build/.../libfastmlp.a -lpthread -o bf16_ab
//   taskset -c 0 ./bf16_ab [REPS] [PEAK_GFLOPS]       # STREAM=1: X cycles through 8 batches (51 MB at 2048)
//
// Each version is included in a namespace of its own (va, vb), after the headers both use, so that
// their anonymous namespaces and their gemm_bf16_avx512 do not collide; libfastmlp.a provides the rest
// (the thread pool, the emulated path).
#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <utility>
#include <vector>

#include "fastmlp/gemm_bf16.hpp"
#include "fastmlp/threads.hpp"
#include "gemm_bf16_pack.hpp"

namespace va::fastmlp {
using namespace ::fastmlp;
}
namespace vb::fastmlp {
using namespace ::fastmlp;
}
namespace va {
#include KERNEL_A
}
namespace vb {
#include KERNEL_B
}

namespace {

using ::fastmlp::Index;

template <class T>
struct Aligned {  // 64-byte aligned storage, as the network's buffers
  using value_type = T;
  Aligned() = default;
  template <class U>
  Aligned(const Aligned<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64)); }
  void deallocate(T* p, std::size_t) { std::free(p); }
  bool operator==(const Aligned&) const { return true; }
  bool operator!=(const Aligned&) const { return false; }
};
using Floats = std::vector<float, Aligned<float>>;

double thread_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 15;
  const double peak = argc > 2 ? std::atof(argv[2]) : 520.0;  // GFLOP/s, for the % columns
  const int batches = std::getenv("STREAM") ? 8 : 1;          // X: one batch, or 8 in turn
  ::fastmlp::set_num_threads(1);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  for (Index m : {128, 512, 2048}) {
    double flops_all = 0, time_a = 0, time_b = 0;
    for (auto [d_in, d_out] : {std::pair<Index, Index>{784, 256}, {256, 128}, {128, 10}}) {
      Floats X(std::size_t(batches * m * d_in)), W(std::size_t(d_in * d_out)), D(std::size_t(m * d_out));
      Floats C(std::size_t(std::max({m * d_out, m * d_in, d_in * d_out}))), C2(C.size());
      for (Floats* v : {&X, &W, &D})
        for (float& x : *v) x = normal(rng);
      struct Shape {
        const char* name;
        bool ta, tb;
        Index M, N, K;
        const float *A, *B;
        Index lda, ldb;
      };
      const Shape shapes[] = {{"Z=XW", false, false, m, d_out, d_in, X.data(), W.data(), d_in, d_out},
                              {"dX=DW^T", false, true, m, d_in, d_out, D.data(), W.data(), d_out, d_out},
                              {"dW=X^TD", true, false, d_in, d_out, m, X.data(), D.data(), d_in, d_out}};
      for (const Shape& s : shapes) {
        auto A_at = [&](int q) { return s.A == X.data() ? s.A + (q % batches) * m * d_in : s.A; };
        auto B_at = [&](int q) { return s.B == X.data() ? s.B + (q % batches) * m * d_in : s.B; };
        auto run_a = [&](int q) {
          va::fastmlp::gemm_bf16_avx512(s.ta, s.tb, s.M, s.N, s.K, 1.f, A_at(q), s.lda, B_at(q), s.ldb, 0.f, C.data(),
                                        s.N);
        };
        auto run_b = [&](int q, float* out) {
          vb::fastmlp::gemm_bf16_avx512(s.ta, s.tb, s.M, s.N, s.K, 1.f, A_at(q), s.lda, B_at(q), s.ldb, 0.f, out, s.N);
        };
        run_a(0);
        run_b(0, C2.data());
        if (C != C2) std::printf("BITS DIFFER %s m=%ld\n", s.name, long(m));
        const double flops = 2.0 * double(s.M) * double(s.N) * double(s.K);
        const int n = std::max(8, int(3e7 / flops)) / 8 * 8;  // ~0.1 ms..10 ms per timing, whole X cycles
        std::vector<double> ta, tb, ratio;
        for (int r = 0; r < reps; ++r) {
          const double t0 = thread_seconds();
          for (int q = 0; q < n; ++q) run_a(q);
          const double t1 = thread_seconds();
          for (int q = 0; q < n; ++q) run_b(q, C.data());
          const double t2 = thread_seconds();
          ta.push_back((t1 - t0) / n);
          tb.push_back((t2 - t1) / n);
          ratio.push_back((t1 - t0) / (t2 - t1));
        }
        for (auto* v : {&ta, &tb, &ratio}) std::sort(v->begin(), v->end());
        flops_all += flops;
        time_a += ta[reps / 2];
        time_b += tb[reps / 2];
        std::printf("m=%4ld %4ldx%-4ld %-8s A %5.1f%% B %5.1f%% of peak  B speedup %.3f (quartiles %.3f-%.3f)\n",
                    long(m), long(d_in), long(d_out), s.name, flops / ta[reps / 2] * 1e-9 / peak * 100,
                    flops / tb[reps / 2] * 1e-9 / peak * 100, ratio[reps / 2], ratio[reps / 4], ratio[3 * reps / 4]);
      }
    }
    std::printf("m=%4ld all nine: A %.1f%% B %.1f%% of peak, B speedup %.3f\n", long(m),
                flops_all / time_a * 1e-9 / peak * 100, flops_all / time_b * 1e-9 / peak * 100, time_a / time_b);
  }
  return 0;
}
