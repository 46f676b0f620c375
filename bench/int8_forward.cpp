// The C++ API's forward pass (fastmlp::Network<float>::forward, one thread) on a model file: one
// sample and batch timings without Python, for bench/RESULTS_INT8.md's C++ rows (issue 27's
// "one-sample latency <= 5 us on one thread"). Build against an installed fastmlp and run pinned:
//
//   S=$(python -c "import fastmlp, pathlib; print(pathlib.Path(fastmlp.__file__).parent)")
//   g++ -O2 -std=c++17 -DEIGEN_MAX_ALIGN_BYTES=64 -I$S/include -isystem EIGEN_DIR \
//       bench/int8_forward.cpp $S/lib/libfastmlp.a -lpthread -o int8_forward
//   taskset -c 0 ./int8_forward q.safetensors 1        # (model.save of the quantized bench net)
//   taskset -c 0 ./int8_forward q.safetensors 10000
//
// Prints the median (min-max) over 9 timings of the wall time per call and of the thread's CPU
// time per call (CLOCK_THREAD_CPUTIME_ID: time the thread was preempted by other jobs left out);
// each timing calls forward 20 times between clock reads. Inputs: uniform [0, 1), 784 features.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "fastmlp/fastmlp.hpp"
#include "fastmlp/serialize.hpp"
#include "fastmlp/threads.hpp"

namespace {
double seconds(clockid_t clock) {
  timespec t;
  clock_gettime(clock, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL ROWS [SECONDS]\n", argv[0]);
    return 2;
  }
  using fastmlp::Index;
  fastmlp::set_num_threads(1);
  fastmlp::Network<float> net = fastmlp::load_network<float>(argv[1]);
  const Index m = std::atoi(argv[2]);
  const double secs = argc > 3 ? std::atof(argv[3]) : 2.0;
  fastmlp::Matrix<float> X(m, net.n_inputs());
  std::mt19937 gen(0);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = uniform(gen);
  float sink = 0.0f;
  for (int i = 0; i < 10; ++i) sink += net.forward(X)(0, 0);
  std::vector<double> cpu, wall;
  for (int rep = 0; rep < 9; ++rep) {
    long n = 0;
    const double c0 = seconds(CLOCK_THREAD_CPUTIME_ID), w0 = seconds(CLOCK_MONOTONIC);
    double elapsed = 0.0;
    do {
      for (int i = 0; i < 20; ++i) sink += net.forward(X)(0, 0);
      n += 20;
      elapsed = seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
    } while (elapsed < secs / 9);
    cpu.push_back(elapsed / double(n)), wall.push_back((seconds(CLOCK_MONOTONIC) - w0) / double(n));
  }
  std::sort(cpu.begin(), cpu.end()), std::sort(wall.begin(), wall.end());
  for (const auto* v : {&wall, &cpu}) {
    const char* what = v == &wall ? "wall" : "thread CPU";
    if (m == 1)
      std::printf("%s m=1: %s %.2f us (%.2f-%.2f)\n", argv[1], what, (*v)[4] * 1e6, (*v)[0] * 1e6, (*v)[8] * 1e6);
    else
      std::printf("%s m=%ld: %s %.1fk samples/s (%.1f-%.1fk)\n", argv[1], long(m), what, double(m) / (*v)[4] / 1e3,
                  double(m) / (*v)[8] / 1e3, double(m) / (*v)[0] / 1e3);
  }
  return sink == 12345.0f;  // keeps the calls
}
