// One core's multiply-add peak, for bench/bench_bf16_gemm.py's "% of peak" columns (issue 27: the bf16
// products at >= 85% of the bf16 limit measured):
//   bf16     vdpbf16ps zmm (_mm512_dpbf16_ps): 32 bf16 pair products added into 16 float32 lanes =
//            32 multiply-adds = 64 flops per instruction (AVX512_BF16)
//   f32_512  vfmadd231ps zmm (_mm512_fmadd_ps): 16 multiply-adds = 32 flops (AVX512F)
//   f32_256  vfmadd231ps ymm (_mm256_fmadd_ps): 8 multiply-adds = 16 flops (AVX2 + FMA)
//   bf16_converting
//            the bf16 loop with, per 24 vdpbf16ps, the instructions that convert 96 floats as the
//            kernel's packer does (gemm_bf16_pack.hpp, lane_words: 3 x (2 vfpclassps, vcvtne2ps2bf16,
//            vpermw, a store)); its rate counts the vdpbf16ps only: what converting the operands
//            under the products (instead of in a pass of their own) leaves of the peak
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
#include <cstdint>
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

__attribute__((target("avx512f,avx512bw,avx512dq,avx512bf16"))) float bf16_converting_loop(long steps, float seed) {
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(seed), _mm512_set1_ps(0.5f * seed));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(-1e-3f));
  const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                              6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  alignas(64) float in[8][16];  // read at addresses that change with the step: the loads stay in the loop
  alignas(64) std::uint32_t out[8][16];
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 16; ++j) in[i][j] = seed * float(i * 16 + j);
  __m512 acc[kAcc512];
  for (int i = 0; i < kAcc512; ++i) acc[i] = _mm512_set1_ps(float(i));
  __mmask16 odd = 0;
  for (long s = 0; s < steps; ++s) {
#pragma GCC unroll 24
    for (int i = 0; i < kAcc512; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
#pragma GCC unroll 3
    for (int c = 0; c < 3; ++c) {  // two rows' 16 floats to 16 pair words, as lane_words
      const long r = (s + 2 * c) & 7;
      const __m512 even = _mm512_load_ps(in[r]), o = _mm512_load_ps(in[r ^ 1]);
      odd |= _mm512_fpclass_ps_mask(even, 0xa1) | _mm512_fpclass_ps_mask(o, 0xa1);
      _mm512_store_si512(out[r], _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(o, even)));
    }
  }
  std::uint32_t words = 0;
  for (const auto& row : out) words ^= row[0];
  return sum_lanes(acc, kAcc512) + float(odd) + float(words & 1u);
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
  const Kernel kernels[] = {{"bf16", bf16_loop, kAcc512, 64},
                            {"bf16_converting", bf16_converting_loop, kAcc512, 64},
                            {"f32_512", f32_512_loop, kAcc512, 32},
                            {"f32_256", f32_256_loop, kAcc256, 16}};
  const Kernel* k = nullptr;
  for (const Kernel& c : kernels)
    if (argc > 1 && std::strcmp(argv[1], c.name) == 0) k = &c;
  if (k == nullptr) {
    std::fprintf(stderr, "usage: %s bf16|bf16_converting|f32_512|f32_256\n", argv[0]);
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
