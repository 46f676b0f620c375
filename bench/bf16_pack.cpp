// The AVX512_BF16 kernel's operand packing (cpp/src/gemm_bf16_pack.hpp, AVX-512 with vcvtne2ps2bf16)
// against the scalar loops it replaced (copied below as they were: pair_bits of strided scalar reads,
// scratch zeroed by assign), on the bench net's first layer (784-256) at batch 128 / 512 / 2048 for the
// three training products:
//   forward   Z = X W          A = X (b x 784),     B = W (784 x 256)
//   backward dX = delta W^T    A = delta (b x 256), B = W^T (W stored 784 x 256: transposed)
//   gradient dW = X^T delta    A = X^T (X stored b x 784: transposed), B = delta (b x 256)
// Needs a CPU with AVX512_BF16. Also checks that both packings give the same words, and that the
// packers' conversion (vcvtne2ps2bf16, with bf16_pack::round_words where 32 floats hold a subnormal or
// a NaN) is bf16_round_word on all 2^32 bit patterns. Build from the repository root, run pinned
// (Eigen only for fastmlp::Index):
//
//   g++ -O3 -std=c++17 -Icpp/include -isystem EIGEN_DIR bench/bf16_pack.cpp -o bf16_pack
//   taskset -c 0 ./bf16_pack [GFLOPS]
//
// Prints, per product and operand, the least of 15 timings (each 10 calls) of the thread's CPU time per call
// and per packed element, and the packing of both operands as a share of the product's time at GFLOPS
// (default 510, the vdpbf16ps peak bench_bf16_gemm.py measured on an AMD EPYC Zen 5 core).
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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

// A^T in 8-lane blocks, A as stored in the rows layout (gemm_bf16_pack.hpp).
void pack_a(bool ta, Index M, Index K, const float* A, Index lda, std::vector<std::uint32_t>& Ap) {
  const Index P = (K + 1) / 2;
  const std::size_t words = std::size_t(ta ? (M + MR - 1) / MR * P * MR : M * fastmlp::row_stride(P));
  if (Ap.size() < words) Ap.resize(words);
  if (ta)
    fastmlp::pack_lane_columns<MR>(A, lda, M, K, Ap.data());
  else
    fastmlp::pack_rows_in_order(A, lda, M, K, Ap.data());
}

void pack_b(bool tb, Index N, Index K, const float* B, Index ldb, std::vector<std::uint32_t>& Bp) {
  const std::size_t words = std::size_t((N + kLanes - 1) / kLanes * ((K + 1) / 2) * kLanes);
  if (Bp.size() < words) Bp.resize(words);
  if (tb)
    fastmlp::pack_lane_rows(B, ldb, N, K, Bp.data());
  else
    fastmlp::pack_lane_columns<kLanes>(B, ldb, N, K, Bp.data());
}

}  // namespace now

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

// The packers' conversion against bf16_round_word on every 32-bit pattern (all NaNs, infinities,
// subnormals), 32 at a time as pack_rows_in_order and pack_lane_rows take them; and a chunk of one
// subnormal among normals.
FASTMLP_BF16_TARGET bool same_rule_everywhere() {
  alignas(64) std::uint32_t in[32], out[16];
  for (std::uint64_t i = 0; i < (std::uint64_t(1) << 32); i += 32) {
    for (int j = 0; j < 32; ++j) in[j] = std::uint32_t(i + j);
    if (i == 0x3f800000u) in[5] = 0x007fffffu;  // the fallback inside a chunk of normal numbers
    _mm512_store_si512(out, fastmlp::bf16_pack::neighbour_words(reinterpret_cast<const float*>(in), 32));
    for (int j = 0; j < 32; ++j) {
      const std::uint32_t got = j % 2 ? out[j / 2] >> 16 : out[j / 2] & 0xffffu;
      if (got != fastmlp::bf16_round_word(in[j]) >> 16) {
        std::printf("MISMATCH rule at %08x\n", unsigned(in[j]));
        return false;
      }
    }
  }
  return true;
}

int main(int argc, char** argv) {
  if (!same_rule_everywhere()) return 1;
  const double kFlops = (argc > 1 ? std::atof(argv[1]) : 510.0) * 1e9;  // the product's rate
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
      for (Index i = 0; i < g.M; ++i)  // old: row i's P words; now: A^T 8-row blocks [block][p][r], A rows
        for (Index p = 0; p < P; ++p)
          if (Ap_old[std::size_t(i * P + p)] !=
              Ap_new[std::size_t(g.ta ? (i / MR * P + p) * MR + i % MR : i * fastmlp::row_stride(P) + p)]) {
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
          "%-9s %5ld  both operands: old %.1f us, new %.1f us; product at %.0f GFLOP/s %.1f us: %.0f%% -> %.0f%%\n",
          g.name, long(b), 1e6 * (t[0][0] + t[0][1]), 1e6 * (t[1][0] + t[1][1]), kFlops / 1e9, 1e6 * product,
          100 * (t[0][0] + t[0][1]) / product, 100 * (t[1][0] + t[1][1]) / product);
    }
  }
  return 0;
}
