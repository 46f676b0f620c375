// The AVX512_BF16 kernel of the mixed product (gemm_bf16.hpp): vdpbf16ps (_mm512_dpbf16_ps).
//
// First run on silicon 2026-12-07, an AMD EPYC Zen 5 core (family 26, model 2), where tests/test_mixed_bf16.py
// checks it against the reference and the emulated path (bench/RESULTS_BF16.md has its rates). gemm_bf16.cpp
// calls it only where CPUID reports AVX512_BF16 at level v4, on AMD CPUs or when FASTMLP_BF16 asks
// (gemm_bf16.hpp). Its logic also runs in the test suite under emulation on any x86-64 CPU
// (tests/test_emulated_kernels.py: compiled for AVX2 with SIMDe standing in for the AVX-512 intrinsics,
// against the exact product of the rounded operands and the emulated path, transposes, strides, tails,
// alpha and beta, and the same bits on 1, 2 and 3 threads).
//
// vdpbf16ps adds, per float lane j, the products of two bf16 pairs: c_j += a_2j b_2j + a_2j+1 b_2j+1
// (Intel's order: the odd pair first, each addition rounded to float32, subnormal inputs and results
// flushed to zero). So K is consumed in pairs (p = k / 2), each pair one 32-bit word (the even k low):
//   op(B) is packed per 16 columns: for each pair p one 512-bit row of the 16 columns' words; the last
//     column block and an odd K are padded with zeros.
//   op(A) = A^T is packed per 8 rows alike: for each pair p the 8 rows' words side by side; op(A) = A
//     as stored is kept in rows (each row's bf16 in order are its pair words), 8 rows per panel. The
//     tile broadcasts each row's word to every lane in turn.
// The micro-kernel tile<R, NV> keeps R <= 8 rows x NV <= 3 blocks (48 columns) of C in R NV zmm
// accumulators over the whole K, then C = alpha acc + beta C (beta 0: C not read). R and NV are template
// arguments (the last M % 8 rows and C's last blocks have their own instantiations), so the p-loop has
// no per-row test: built for Zen 4 (clang++-19 -O3 -march=znver4; g++ 12, which predates znver4,
// -march=znver3 with Zen 4's AVX-512 flags), both compilers keep the 24 accumulators of an 8 x 3 tile
// in registers with no spill, the loop being 3 loads, 8 vpbroadcastd, 24 vdpbf16ps and the counter
// (clang unrolls it twice). (The former tile<8, 2> tested `r < rows` per row inside the loop.)
//
// Threads, as the float32 GEMM: fastmlp's pool (parallel_for) from the same threshold. Both operands
// are packed once into the calling thread's scratch, each thread its share of A's panels and B's
// blocks; after the join, C is split by row panels where M > N (each thread reads all of the packed B
// from cache), else by column blocks. Every element of C is summed by one tile in one order whatever
// the split or the tile's width: the same bits on any thread count. No K blocking: the bench net's
// packed op(B) is at most 1 MB (dW at batch 2048), and where it passes half of L2 compute() walks it one
// tile's blocks at a time (split into 64- to 256-pair chunks of K, it measured the same within noise;
// into two halves of K that each fit in L2, 1.00x in a paired timing).
//
// Measured on the Zen 5 core (bench/RESULTS_BF16.md; a stand-alone timing of the phases, 2026-12-07):
// the tiles alone run at 93-99% of the vdpbf16ps peak (510 GFLOP/s, 2.0x the float32 FMA peak), so
// the 8 vpbroadcastd per 24 vdpbf16ps cost little there; llvm-mca's Zen 4 model (75-77%, the broadcasts
// on an FMA pipe; RESULTS_BF16.md) was pessimistic for this core. What is left is packing (below) and
// the 128-10 layer's narrow products (10 of 16 lanes, K = 128). Sapphire Rapids is unmeasured: LLVM's
// model gives vdpbf16ps half of float32's rate there, hence Intel CPUs take the emulated path by default.
//
// Packing (gemm_bf16_pack.hpp, AVX-512) runs on every call, both operands (but op(A) = x^T that the forward
// product kept, at_in / at_out: gemm_bf16.hpp, Bf16Input), every word written (padding
// too, so the scratch only grows and is never zeroed per call), converting with vcvtne2ps2bf16 (ties to
// even, as the emulated path; 32 floats that hold a subnormal or a NaN take bf16_round's rule instead):
// pairs from two rows at once where the operand's lanes are contiguous (B, A^T), 8 x 16 register
// transposes where k is (B^T), and A as stored converted row by row in order (the rows layout; with
// 8 x 16 transposes, as B^T, it cost more than the conversion: a paired timing of the two kernels on
// the Zen 5 core gave Z = X W 1.09x at batch 2048 and 1.02-1.03x at 128, dX = delta W^T 1.00-1.01x).
// On the Zen 5 core (bench/bf16_pack.cpp, thread CPU time), the bench net's layer 784-256 at batch
// 128 / 512 / 2048: 0.03-0.06 ns per element for A, 0.06-0.09 for the others, against 0.13-0.2 for
// the AVX2 packers before them (0.57 for X^T at batch 2048, whose half-line writes aliased in L1) and
// 0.6-1.1 for the scalar loops before those. Packing both operands then costs 3-17% of the product's
// time at the peak (at batch 128, W's 200k elements; at 2048, X's 1.6M, packed once per product that
// reads it). Measured and left out (bench/bf16_ab.cpp, paired, bench/RESULTS_BF16.md): B converted by
// the first panel's tiles as they go (1.03-1.04x on the two products where it applies, Z at batch 128;
// the conversion's instructions take 13-16% of vdpbf16ps's rate, bf16_peak.cpp bf16_converting, and
// W's 800 KB still come from L3), A's panels packed just before their tiles (0.95-1.01x), software
// prefetch of the rows to come (0.99-1.01x).
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

#include "fastmlp/gemm_bf16.hpp"
#include "fastmlp/threads.hpp"
#include "gemm_bf16_pack.hpp"  // and FASTMLP_BF16_TARGET

namespace fastmlp {

namespace {

constexpr Index kLanes = 16;  // floats per zmm: the columns of one packed block of op(B)
constexpr int kMR = 8;        // rows of C per packed panel of op(A)
constexpr int kNV = 3;        // 16-column blocks per tile
// The packed B (bytes) that compute() keeps in L2 while it walks A's panels: half a Zen 4 / Zen 5 core's 1 MB.
constexpr Index kBInL2 = 512 * 1024;

// The packers write every word, padding included (gemm_bf16_pack.hpp): the scratch is never zeroed
// for them, nor shrunk (a resize to a smaller size and back would zero the regrown part: the training
// step's products alternate between sizes).
inline void grow(std::vector<std::uint32_t>& scratch, Index words) {
  if (scratch.size() < std::size_t(words)) scratch.resize(std::size_t(words));
}

// C[0, R) x [0, cols) (cols <= 16 NV) from one packed panel Ap (kMR words per pair; its rows R.. are not
// read) and NV 16-column blocks of Bp. R and NV are compile-time, so the p-loop is R NV vdpbf16ps on
// R NV accumulators held in registers, with no test per row: a panel's last rows (M % kMR) get their
// own instantiation. Each element of C is summed over p = 0, 1, ... in one accumulator lane, then
// alpha acc + beta C: the same arithmetic in every tile shape, so any split of C gives the same bits.
template <int R, int NV, bool kRows>
FASTMLP_BF16_TARGET void tile(Index P, const std::uint32_t* Ap, Index rs, const std::uint32_t* Bp, Index bp_stride,
                              float alpha, float beta, float* C, Index ldc, Index cols) {
  __m512 acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (Index p = 0; p < P; ++p) {
    __m512bh b[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v)
      b[v] = (__m512bh)_mm512_loadu_si512(static_cast<const void*>(Bp + v * bp_stride + p * kLanes));
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(int(kRows ? Ap[r * rs + p] : Ap[p * kMR + r]));
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], a, b[v]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  __mmask16 mask[NV];  // the columns stored of each block: all 16 but in C's last block
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) {
    const Index left = std::min(std::max<Index>(cols - v * kLanes, 0), kLanes);
    mask[v] = __mmask16((1u << left) - 1u);
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      float* c = C + r * ldc + v * kLanes;
      __m512 out = _mm512_mul_ps(va, acc[r][v]);
      if (beta != 0.0f) out = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], c), out);
      _mm512_mask_storeu_ps(c, mask[v], out);
    }
}

using Tile = void (*)(Index, const std::uint32_t*, Index, const std::uint32_t*, Index, float, float, float*, Index,
                      Index);

// tile<R, NV, kRows> for R = 1..kMR, NV = 1..kNV, at [(R - 1) kNV + NV - 1].
template <bool kRows, int... I>
constexpr std::array<Tile, sizeof...(I)> make_tiles(std::integer_sequence<int, I...>) {
  return {&tile<I / kNV + 1, I % kNV + 1, kRows>...};
}
constexpr auto kPanelTiles = make_tiles<false>(std::make_integer_sequence<int, kMR * kNV>{});
constexpr auto kRowTiles = make_tiles<true>(std::make_integer_sequence<int, kMR * kNV>{});

// One product's packed operands and arguments, shared by the threads.
struct Product {
  bool ta, tb;
  Index M, N, K, P, MB, NB;  // P bf16 pairs along K, MB kMR-row panels, NB 16-column blocks
  float alpha, beta;
  const float *A, *B;
  Index lda, ldb;
  float* C;
  Index ldc;
  std::uint32_t *Ap, *Bp;  // MB panels of A (as words apart), NB blocks of P 16 words of B
  Index as, rs;            // A's word (row r, pair p) of panel i: Ap[i as + p kMR + r] (ta), Ap[i as + r rs + p]
  std::uint32_t* At;       // not null (not ta): A's words also written as op(A) = A^T's panels (Bf16Input)
  bool A_packed;           // Ap holds op(A) already (ta: a kept Bf16Input), not packed here
  std::atomic<bool>* A_nonfinite;  // set where At's packing met a NaN or an infinity in A
};

// Packs A's panels [a0, a1) and B's blocks [b0, b1); each writes only its own panels and blocks.
void pack(const Product& g, Index a0, Index a1, Index b0, Index b1) {
  if (a1 > a0 && !g.A_packed) {
    const Index l0 = a0 * kMR, lanes = std::min(g.M, a1 * kMR) - l0;  // rows of op(A)
    std::uint32_t* to = g.Ap + a0 * g.as;
    if (g.ta)
      pack_lane_columns<kMR>(g.A + l0, g.lda, lanes, g.K, to);  // stored A: K x M
    else if (!g.At)
      pack_rows_in_order(g.A + l0 * g.lda, g.lda, lanes, g.K, to);
    else if (!pack_rows_and_columns(g.A + l0 * g.lda, g.lda, lanes, g.K, to, g.At, (g.M + 1) / 2, l0 / 2))
      g.A_nonfinite->store(true, std::memory_order_relaxed);  // rows l0.. are pairs l0 / 2.. of A^T's blocks
  }
  if (b1 > b0) {
    const Index l0 = b0 * kLanes, lanes = std::min(g.N, b1 * kLanes) - l0;  // columns of op(B)
    std::uint32_t* to = g.Bp + b0 * g.P * kLanes;
    if (g.tb)
      pack_lane_rows(g.B + l0 * g.ldb, g.ldb, lanes, g.K, to);  // stored B: N x K
    else
      pack_lane_columns<kLanes>(g.B + l0, g.ldb, lanes, g.K, to);
  }
}

// C's panels [i0, i1) x blocks [nb0, nb1): for each panel (its Ap, P kMR words, stays in L1) the
// blocks kNV at a time (the last one alone where the count is odd).
void compute(const Product& g, Index i0, Index i1, Index nb0, Index nb1) {
  const Index bp_stride = g.P * kLanes;  // one 16-column block of Bp
  auto tile_at = [&](Index i, Index nb, int nv) {
    const int rows = int(std::min<Index>(kMR, g.M - i * kMR));
    const Index cols = std::min<Index>(nv * kLanes, g.N - nb * kLanes);
    const auto& tiles = g.ta ? kPanelTiles : kRowTiles;
    tiles[std::size_t((rows - 1) * kNV + nv - 1)](g.P, g.Ap + i * g.as, g.rs, g.Bp + nb * bp_stride, bp_stride, g.alpha,
                                                  g.beta, g.C + i * kMR * g.ldc + nb * kLanes, g.ldc, cols);
  };
  // Tiles kNV blocks wide, but the last four blocks as 2 + 2: a 1-block tile broadcasts each A word for
  // 16 products instead of 48 or 32.
  auto width = [&](Index nb) { return nb1 - nb == 4 ? 2 : int(std::min<Index>(kNV, nb1 - nb)); };
  if ((nb1 - nb0) * bp_stride * Index(sizeof(std::uint32_t)) <= kBInL2) {
    for (Index i = i0; i < i1; ++i)  // the panel (P kMR words) stays in L1 across B's blocks, B in L2
      for (Index nb = nb0, nv; nb < nb1; nb += nv) tile_at(i, nb, nv = width(nb));
  } else {  // a packed B past L2 (dW at a large batch, K = m): one tile's blocks stay in L2 across the panels
    for (Index nb = nb0, nv; nb < nb1; nb += nv)
      for (Index i = i0; i < i1; ++i) tile_at(i, nb, nv = width(nb));
  }
}

}  // namespace

FASTMLP_BF16_TARGET void gemm_bf16_avx512(bool ta, bool tb, Index M, Index N, Index K, float alpha, const float* A,
                                          Index lda, const float* B, Index ldb, float beta, float* C, Index ldc,
                                          std::uint32_t* at_out = nullptr, const std::uint32_t* at_in = nullptr,
                                          bool* a_finite = nullptr) {
  if (M == 0 || N == 0 || K == 0) return gemm_bf16_emulated(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  const Index P = (K + 1) / 2, MB = (M + kMR - 1) / kMR, NB = (N + kLanes - 1) / kLanes;
  // This thread's scratch, grown before the threads start: they only write into it, each its own part.
  thread_local std::vector<std::uint32_t> Ap, Bp;
  // A transposed: 8-lane blocks; else the rows layout (gemm_bf16_pack.hpp)
  const Index rs = row_stride(P), as = ta ? P * kMR : kMR * rs;
  const bool A_packed = ta && at_in;
  if (!A_packed) grow(Ap, MB * as);
  grow(Bp, NB * P * kLanes);
  std::uint32_t* Ap_at = A_packed ? const_cast<std::uint32_t*>(at_in) : Ap.data();  // only read when given
  std::atomic<bool> nonfinite{false};
  const Product g{ta,       tb,        M,     N,         K,  P,   MB,
                  NB,       alpha,     beta,  A,         B,  lda, ldb,
                  C,        ldc,       Ap_at, Bp.data(), as, rs,  ta ? nullptr : at_out,
                  A_packed, &nonfinite};
  // Two passes over the pool (gemm.cpp's threshold decides for both): every thread packs its share of
  // A's panels and of B's blocks, then (after the join) computes its share of C from all of them.
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const Index S = std::max(g.MB, g.NB);  // share t: panels MB j0 / S .. MB j1 / S, blocks likewise
  parallel_for(S, flops, 1,
               [&](Index j0, Index j1) { pack(g, g.MB * j0 / S, g.MB * j1 / S, g.NB * j0 / S, g.NB * j1 / S); });
  // As gemm.cpp: more rows than columns (a large batch) splits the panels, each thread reading all of the
  // packed B from cache; else the column blocks. Any split gives the same bits (tile above).
  if (M > N)
    parallel_for(g.MB, flops, 1, [&](Index i0, Index i1) { compute(g, i0, i1, 0, g.NB); });
  else
    parallel_for(g.NB, flops, 1, [&](Index nb0, Index nb1) { compute(g, 0, g.MB, nb0, nb1); });
  if (a_finite) *a_finite = !nonfinite.load(std::memory_order_relaxed);  // known where At was packed
}

}  // namespace fastmlp
