// A mixed bf16 training step's nine products of the bench net (784-256-128-10) in the order backprop runs
// them, over X streamed from memory as an epoch reads it (16384 rows, 51 MB, one batch after another):
// mode 0 converts every operand in every product; mode 1 keeps the first layer's x from z = x W to its
// weight gradient (gemm_bf16.hpp, Bf16Input; the Dense layer's rule: layers/dense.cpp), and mode 2 keeps
// every layer's x. Element-wise passes are left out; the weight gradients update W as the fused SGD
// step does (beta 1). Thread CPU time, one thread, the modes alternating epoch by epoch; per product
// the time per step, and the median (min-max) of the per-round ratios of the whole step's products.
//
// Build from the repository root against the library the wheel built, then run pinned:
//
//   c++ -O3 -DNDEBUG -std=gnu++17 -Icpp/include -isystem EIGEN_DIR bench/bf16_step.cpp
//       build/.../libfastmlp.a -lpthread -o bf16_step      (one line)
//   taskset -c 0 ./bf16_step [BATCH] [ROUNDS]
//
// Where the AVX512_BF16 kernel does not run, nothing is kept and the three modes are the same products.
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "fastmlp/gemm_bf16.hpp"
#include "fastmlp/threads.hpp"

namespace {

using fastmlp::Index;

double thread_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

float* aligned_floats(Index n) {  // 64-byte aligned, as the network's buffers
  return static_cast<float*>(std::aligned_alloc(64, std::size_t((n * 4 + 63) / 64 * 64)));
}

}  // namespace

int main(int argc, char** argv) {
  const Index m = argc > 1 ? std::atol(argv[1]) : 2048, rounds = argc > 2 ? std::atol(argv[2]) : 11;
  const Index N = 16384 / m * m, dims[4] = {784, 256, 128, 10};
  fastmlp::set_num_threads(1);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  float* X = aligned_floats(N * dims[0]);
  for (Index i = 0; i < N * dims[0]; ++i) X[i] = normal(rng);
  float *W[3], *A[3], *D[3], *dA[3];
  for (int l = 0; l < 3; ++l) {
    const Index d = dims[l], k = dims[l + 1];
    W[l] = aligned_floats(d * k), A[l] = aligned_floats(m * k), D[l] = aligned_floats(m * k),
    dA[l] = aligned_floats(m * d);
    for (Index i = 0; i < d * k; ++i) W[l][i] = 0.05f * normal(rng);
    for (Index i = 0; i < m * k; ++i) A[l][i] = std::abs(normal(rng)), D[l][i] = 1e-3f * normal(rng);
  }
  fastmlp::Bf16Input kept[3];
  const char* names[9] = {"Z1", "Z2", "Z3", "dX2", "dX3", "dW1", "dW2", "dW3", ""};
  double t[3][8] = {};
  std::vector<double> ratio[3];
  for (Index r = 0; r < rounds; ++r) {
    double step[3] = {};
    for (int mode = 0; mode < 3; ++mode) {
      for (Index s = 0; s < N / m; ++s) {
        const float* x[3] = {X + s * m * dims[0], A[0], A[1]};
        auto timed = [&](int slot, auto&& product) {
          const double t0 = thread_seconds();
          product();
          const double dt = thread_seconds() - t0;
          t[mode][slot] += dt, step[mode] += dt;
        };
        for (int l = 0; l < 3; ++l) {  // forward: z = x W
          const Index d = dims[l], k = dims[l + 1];
          timed(l, [&] {
            float* z = l < 2 ? A[l] : D[2];
            const bool keep = mode == 2 || (mode == 1 && l == 0);
            if (keep)
              fastmlp::gemm_bf16_keep(m, k, d, 1.f, x[l], d, W[l], k, 0.f, z, k, kept[l]);
            else
              fastmlp::gemm_bf16(false, false, m, k, d, 1.f, x[l], d, W[l], k, 0.f, z, k);
          });
        }
        for (int l = 2; l >= 0; --l) {
          const Index d = dims[l], k = dims[l + 1];
          if (l > 0)  // dx = delta W^T (the first layer has none)
            timed(2 + l, [&] { fastmlp::gemm_bf16(false, true, m, d, k, 1.f, D[l], k, W[l], k, 0.f, dA[l], d); });
          timed(5 + l, [&] {  // W += -rate x^T delta, x as kept where it was
            const bool kept_here = mode == 2 || (mode == 1 && l == 0);
            if (kept_here)
              fastmlp::gemm_bf16_kept(d, k, m, -1e-6f, x[l], d, D[l], k, 1.f, W[l], k, kept[l]);
            else
              fastmlp::gemm_bf16(true, false, d, k, m, -1e-6f, x[l], d, D[l], k, 1.f, W[l], k);
          });
        }
      }
    }
    for (int mode = 1; mode < 3; ++mode) ratio[mode].push_back(step[0] / step[mode]);
  }
  const double steps = double(rounds * (N / m));
  std::printf("batch %ld, ms per step: product  converting all / keeping x of layer 1 / of every layer\n", long(m));
  for (int p = 0; p < 8; ++p)
    std::printf("  %-4s %7.3f %7.3f %7.3f\n", names[p], 1e3 * t[0][p] / steps, 1e3 * t[1][p] / steps,
                1e3 * t[2][p] / steps);
  for (int mode = 1; mode < 3; ++mode) {
    std::sort(ratio[mode].begin(), ratio[mode].end());
    std::printf("speedup of the step's products, keeping x of %s: %.3f (%.3f-%.3f)\n",
                mode == 1 ? "layer 1" : "every layer", ratio[mode][ratio[mode].size() / 2], ratio[mode].front(),
                ratio[mode].back());
  }
  return 0;
}
