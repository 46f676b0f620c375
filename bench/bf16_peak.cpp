// One core's multiply-add peak, for bench/bench_bf16_gemm.py's "% of peak" columns (issue 27: the bf16
// products at >= 85% of the bf16 limit measured):
//   bf16     vdpbf16ps zmm (_mm512_dpbf16_ps): 32 bf16 pair products added into 16 float32 lanes =
//            32 multiply-adds = 64 flops per instruction (AVX512_BF16)
//   f32_512  vfmadd231ps zmm (_mm512_fmadd_ps): 16 multiply-adds = 32 flops (AVX512F)
//   f32_256  vfmadd231ps ymm (_mm256_fmadd_ps): 8 multiply-adds = 16 flops (AVX2 + FMA)
// A register-only loop of independent instructions: ACC accumulators, each updated once per step, so
// that ACC / (instructions per cycle) >= the latency (vdpbf16ps: 6-8 cycles, FMA: 4) and the loop
// runs at the pipes' throughput, not at the latency of one chain. Every function carries its own
// target attribute, so the file builds with no -m flag and runs any kernel the CPU has (the caller
// picks by /proc/cpuinfo); a kernel the CPU lacks dies of SIGILL.
//
//   c++ -O2 -std=c++17 bench/bf16_peak.cpp -o bf16_peak
//   taskset -c 0 ./bf16_peak f32_256      # prints: f32_256 GFLOP/s <best> <median> (over 7 timings)
//
// Each timing is STEPS loop steps of ACC instructions (~0.1 s), wall clock; best and median of 7.
// The accumulators' sum is printed (and depends on argc) so the loop cannot be optimized away.
#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

double now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// The sum of every lane of n vectors (whatever their width), in scalar code.
template <class V>
float sum_lanes(const V* acc, int n) {
  float total = 0;
  for (int i = 0; i < n; ++i) {
    float lanes[sizeof(V) / sizeof(float)];
    std::memcpy(lanes, &acc[i], sizeof lanes);
    for (float x : lanes) total += x;
  }
  return total;
}

// 24 zmm accumulators + 2 sources = 26 of 32 zmm registers; ymm: 12 + 2 of 16.
constexpr int kAcc512 = 24, kAcc256 = 12;

__attribute__((target("avx512f,avx512bf16"))) float bf16_loop(long steps, float seed) {
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(seed), _mm512_set1_ps(0.5f * seed));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(-1e-3f));
  __m512 acc[kAcc512];
  for (int i = 0; i < kAcc512; ++i) acc[i] = _mm512_set1_ps(float(i));
  for (long s = 0; s < steps; ++s)
#pragma GCC unroll 24
    for (int i = 0; i < kAcc512; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  return sum_lanes(acc, kAcc512);
}

__attribute__((target("avx512f"))) float f32_512_loop(long steps, float seed) {
  const __m512 a = _mm512_set1_ps(seed), b = _mm512_set1_ps(1e-7f);
  __m512 acc[kAcc512];
  for (int i = 0; i < kAcc512; ++i) acc[i] = _mm512_set1_ps(float(i));
  for (long s = 0; s < steps; ++s)
#pragma GCC unroll 24
    for (int i = 0; i < kAcc512; ++i) acc[i] = _mm512_fmadd_ps(a, b, acc[i]);
  return sum_lanes(acc, kAcc512);
}

__attribute__((target("avx2,fma"))) float f32_256_loop(long steps, float seed) {
  const __m256 a = _mm256_set1_ps(seed), b = _mm256_set1_ps(1e-7f);
  __m256 acc[kAcc256];
  for (int i = 0; i < kAcc256; ++i) acc[i] = _mm256_set1_ps(float(i));
  for (long s = 0; s < steps; ++s)
#pragma GCC unroll 12
    for (int i = 0; i < kAcc256; ++i) acc[i] = _mm256_fmadd_ps(a, b, acc[i]);
  return sum_lanes(acc, kAcc256);
}

}  // namespace

int main(int argc, char** argv) {
  struct Kernel {
    const char* name;
    float (*loop)(long, float);
    int acc;
    double flops;  // per instruction
  };
  const Kernel kernels[] = {
      {"bf16", bf16_loop, kAcc512, 64}, {"f32_512", f32_512_loop, kAcc512, 32}, {"f32_256", f32_256_loop, kAcc256, 16}};
  const Kernel* k = nullptr;
  for (const Kernel& c : kernels)
    if (argc > 1 && std::strcmp(argv[1], c.name) == 0) k = &c;
  if (k == nullptr) {
    std::fprintf(stderr, "usage: %s bf16|f32_512|f32_256\n", argv[0]);
    return 2;
  }
  const float seed = 1.0f + 1e-3f * float(argc);
  long steps = 1 << 15;
  for (double t = 0; t < 0.1;) {  // size one timing to ~0.1 s (this also warms the clock up)
    steps *= 2;
    const double t0 = now();
    k->loop(steps, seed);
    t = now() - t0;
  }
  std::vector<double> rates;
  float check = 0;
  for (int r = 0; r < 7; ++r) {
    const double t0 = now();
    check += k->loop(steps, seed);
    rates.push_back(double(steps) * k->acc * k->flops / (now() - t0) * 1e-9);
  }
  std::sort(rates.begin(), rates.end());
  std::printf("%s GFLOP/s %.1f %.1f (accumulators %d, %ld steps, check %g)\n", k->name, rates.back(), rates[3], k->acc,
              steps, double(check));
  return 0;
}
