// The AVX512_BF16 kernel's operand packing (cpp/src/gemm_bf16_pack.hpp, AVX2) against the scalar loops
// it replaced (copied below as they were: pair_bits of strided scalar reads, scratch zeroed by assign),
// on the bench net's first layer (784-256) at batch 128 / 512 / 2048 for the three training products:
//   forward   Z = X W          A = X (b x 784),     B = W (784 x 256)
//   backward dX = delta W^T    A = delta (b x 256), B = W^T (W stored 784 x 256: transposed)
//   gradient dW = X^T delta    A = X^T (X stored b x 784: transposed), B = delta (b x 256)
// Packing needs AVX2 only, so it runs here whatever the CPU; the vdpbf16ps product itself does not
// (its time is estimated at 198 GFLOP/s, a Zen 4 core's bf16 GEMM). Also checks that both packings give
// the same words, that bf16_round_words is bf16_round_word on all 2^32 bit patterns, and times the two
// as round_to_bf16's AVX2 loop (the compiler's vectorization of the scalar rule, which it keeps).
// Build from the repository root, run pinned (Eigen only for fastmlp::Index):
//
//   g++ -O3 -std=c++17 -march=x86-64-v3 -Icpp/include -isystem EIGEN_DIR bench/bf16_pack.cpp -o bf16_pack
//   taskset -c 1 ./bf16_pack
//
// Prints, per product and operand, the least of 15 timings (each 10 calls) of the thread's CPU time per call
// and per packed element, and the packing of both operands as a share of the product's estimated time.
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "../cpp/src/gemm_bf16_pack.hpp"
#include "fastmlp/gemm_bf16.hpp"

using fastmlp::Index;

namespace old {  // the kernel's packing before gemm_bf16_pack.hpp, as it was

constexpr Index kLanes = 16;

inline std::uint16_t bf16_bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}
inline float at(const float* X, Index ld, bool trans, Index r, Index c) {
  return trans ? X[c * ld + r] : X[r * ld + c];
}
inline std::uint32_t pair_bits(float even, float odd) {
  return std::uint32_t(bf16_bits(even)) | (std::uint32_t(bf16_bits(odd)) << 16);
}

void pack_a(bool ta, Index M, Index K, const float* A, Index lda, std::vector<std::uint32_t>& Ap) {
  const Index P = (K + 1) / 2;
  Ap.assign(std::size_t(M * P), 0u);
  for (Index i = 0; i < M; ++i)
    for (Index p = 0; p < P; ++p) {
      const Index k = 2 * p;
      Ap[std::size_t(i * P + p)] = pair_bits(at(A, lda, ta, i, k), k + 1 < K ? at(A, lda, ta, i, k + 1) : 0.0f);
    }
}

void pack_b(bool tb, Index N, Index K, const float* B, Index ldb, std::vector<std::uint32_t>& Bp) {
  const Index P = (K + 1) / 2, NB = (N + kLanes - 1) / kLanes;
  Bp.assign(std::size_t(NB * P * kLanes), 0u);
  for (Index nb = 0; nb < NB; ++nb)
    for (Index p = 0; p < P; ++p)
      for (Index j = 0; j < kLanes && nb * kLanes + j < N; ++j) {
        const Index n = nb * kLanes + j, k = 2 * p;
        Bp[std::size_t((nb * P + p) * kLanes + j)] =
            pair_bits(at(B, ldb, tb, k, n), k + 1 < K ? at(B, ldb, tb, k + 1, n) : 0.0f);
      }
}

}  // namespace old

namespace now {  // as gemm_bf16_avx512.cpp packs now

constexpr int MR = 8, kLanes = 16;

void pack_a(bool ta, Index M, Index K, const float* A, Index lda, std::vector<std::uint32_t>& Ap) {
  const std::size_t words = std::size_t((M + MR - 1) / MR * ((K + 1) / 2) * MR);
  if (Ap.size() < words) Ap.resize(words);
  if (ta)
    fastmlp::pack_lane_columns<MR>(A, lda, M, K, Ap.data());
  else
    fastmlp::pack_lane_rows<MR>(A, lda, M, K, Ap.data());
}

void pack_b(bool tb, Index N, Index K, const float* B, Index ldb, std::vector<std::uint32_t>& Bp) {
  const std::size_t words = std::size_t((N + kLanes - 1) / kLanes * ((K + 1) / 2) * kLanes);
  if (Bp.size() < words) Bp.resize(words);
  if (tb)
    fastmlp::pack_lane_rows<kLanes>(B, ldb, N, K, Bp.data());
  else
    fastmlp::pack_lane_columns<kLanes>(B, ldb, N, K, Bp.data());
}

}  // namespace now

// round_to_bf16's AVX2 loop (the scalar rule, auto-vectorized) and the same with bf16_round_words.
__attribute__((target("avx2"))) void round_auto(const float* x, float* y, Index n) {
  for (Index i = 0; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, x + i, sizeof u);
    const std::uint32_t r = fastmlp::bf16_round_word(u);
    std::memcpy(y + i, &r, sizeof r);
  }
}
__attribute__((target("avx2"))) void round_words(const float* x, float* y, Index n) {
  Index i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        fastmlp::bf16_round_words(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
  round_auto(x + i, y + i, n - i);
}

// The thread's CPU time: the host is shared, and time the thread spent preempted is left out.
double thread_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

template <class F>
double least_seconds(F f) {
  constexpr int kTimings = 15, kCalls = 10;
  std::vector<double> t;
  f();  // warm: scratch allocated, operands in cache
  for (int r = 0; r < kTimings; ++r) {
    const double t0 = thread_seconds();
    for (int c = 0; c < kCalls; ++c) f();
    t.push_back((thread_seconds() - t0) / kCalls);
  }
  return *std::min_element(t.begin(), t.end());
}

std::vector<float> random_matrix(Index rows, Index cols, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> x(std::size_t(rows * cols));
  for (auto& v : x) v = normal(rng);
  x[0] = INFINITY;  // a few special values: both packings must keep them alike
  x[1] = NAN;
  x[x.size() / 2] = -NAN;
  return x;
}

// bf16_round_words against bf16_round_word on every 32-bit pattern (all NaNs, infinities, subnormals).
__attribute__((target("avx2"))) bool same_rule_everywhere() {
  const __m256i step = _mm256_set1_epi32(8);
  __m256i u = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (std::uint64_t i = 0; i < (std::uint64_t(1) << 32); i += 8, u = _mm256_add_epi32(u, step)) {
    alignas(32) std::uint32_t in[8], out[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(in), u);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out), fastmlp::bf16_round_words(u));
    for (int j = 0; j < 8; ++j)
      if (out[j] != fastmlp::bf16_round_word(in[j])) {
        std::printf("MISMATCH rule at %08x\n", unsigned(in[j]));
        return false;
      }
  }
  return true;
}

int main() {
  if (!same_rule_everywhere()) return 1;
  constexpr double kFlops = 198e9;  // a Zen 4 core's bf16 GEMM (the figure)
  constexpr int MR = now::MR;
  std::mt19937 rng(1);
  std::vector<std::uint32_t> Ap_old, Bp_old, Ap_new, Bp_new;
  std::printf("%-9s %5s %4s %4s %4s  %-3s %9s %9s %8s %8s %6s   pack/product old -> new\n", "product", "batch", "M",
              "N", "K", "op", "old us", "new us", "old ns/e", "new ns/e", "x");
  for (Index b : {128, 512, 2048}) {
    struct Product {
      const char* name;
      bool ta, tb;
      Index M, N, K;
    };
    const Product products[] = {{"Z=XW", false, false, b, 256, 784},
                                {"dX=dW^T", false, true, b, 784, 256},
                                {"dW=X^Td", true, false, 784, 256, b}};
    for (const Product& g : products) {
      // stored operands, rows as the kernel sees them (ld = the stored row length)
      const Index a_rows = g.ta ? g.K : g.M, a_cols = g.ta ? g.M : g.K;
      const Index b_rows = g.tb ? g.N : g.K, b_cols = g.tb ? g.K : g.N;
      const std::vector<float> A = random_matrix(a_rows, a_cols, rng), B = random_matrix(b_rows, b_cols, rng);
      old::pack_a(g.ta, g.M, g.K, A.data(), a_cols, Ap_old);
      old::pack_b(g.tb, g.N, g.K, B.data(), b_cols, Bp_old);
      now::pack_a(g.ta, g.M, g.K, A.data(), a_cols, Ap_new);
      now::pack_b(g.tb, g.N, g.K, B.data(), b_cols, Bp_new);
      const Index P = (g.K + 1) / 2;
      for (Index i = 0; i < g.M; ++i)  // old: row i's P words; now: 8-row panels [panel][p][r]
        for (Index p = 0; p < P; ++p)
          if (Ap_old[std::size_t(i * P + p)] != Ap_new[std::size_t((i / MR * P + p) * MR + i % MR)]) {
            std::printf("MISMATCH A %s b=%ld i=%ld p=%ld\n", g.name, long(b), long(i), long(p));
            return 1;
          }
      if (!std::equal(Bp_old.begin(), Bp_old.end(), Bp_new.begin())) {  // the same layout
        std::printf("MISMATCH B %s b=%ld\n", g.name, long(b));
        return 1;
      }
      const double t[2][2] = {{least_seconds([&] { old::pack_a(g.ta, g.M, g.K, A.data(), a_cols, Ap_old); }),
                               least_seconds([&] { old::pack_b(g.tb, g.N, g.K, B.data(), b_cols, Bp_old); })},
                              {least_seconds([&] { now::pack_a(g.ta, g.M, g.K, A.data(), a_cols, Ap_new); }),
                               least_seconds([&] { now::pack_b(g.tb, g.N, g.K, B.data(), b_cols, Bp_new); })}};
      const double product = 2.0 * double(g.M) * double(g.N) * double(g.K) / kFlops;
      const double elements[2] = {double(g.M * g.K), double(g.K * g.N)};
      for (int op = 0; op < 2; ++op)
        std::printf("%-9s %5ld %4ld %4ld %4ld  %-3s %9.1f %9.1f %8.3f %8.3f %6.1f\n", g.name, long(b), long(g.M),
                    long(g.N), long(g.K), op == 0 ? (g.ta ? "A^T" : "A") : (g.tb ? "B^T" : "B"), 1e6 * t[0][op],
                    1e6 * t[1][op], 1e9 * t[0][op] / elements[op], 1e9 * t[1][op] / elements[op], t[0][op] / t[1][op]);
      std::printf(
          "%-9s %5ld  both operands: old %.1f us, new %.1f us; product at 198 GFLOP/s %.1f us: %.0f%% -> %.0f%%\n",
          g.name, long(b), 1e6 * (t[0][0] + t[0][1]), 1e6 * (t[1][0] + t[1][1]), 1e6 * product,
          100 * (t[0][0] + t[0][1]) / product, 100 * (t[1][0] + t[1][1]) / product);
    }
  }
  // round_to_bf16 (the emulated path's operand copies): 784 x 256 floats
  std::vector<float> x = random_matrix(784, 256, rng), y_auto(x.size()), y_words(x.size());
  const Index n = Index(x.size()) - 3;  // a scalar tail
  round_auto(x.data(), y_auto.data(), n);
  round_words(x.data(), y_words.data(), n);
  if (std::memcmp(y_auto.data(), y_words.data(), sizeof(float) * std::size_t(n)) != 0) {
    std::printf("MISMATCH round\n");
    return 1;
  }
  const double ta = least_seconds([&] { round_auto(x.data(), y_auto.data(), n); });
  const double tw = least_seconds([&] { round_words(x.data(), y_words.data(), n); });
  std::printf("round_to_bf16 AVX2, %ld floats: auto-vectorized %.1f us (%.3f ns/e), intrinsics %.1f us (%.3f ns/e)\n",
              long(n), 1e6 * ta, 1e9 * ta / double(n), 1e6 * tw, 1e9 * tw / double(n));
  return 0;
}
