// gemm.cpp's micro-kernel (ukernel) and its dispatch tables by tile size (PackedKernels, DirectKernels).
// Part of gemm.cpp's translation unit: included inside its per-level namespace and its #if FASTMLP_GEMM_ISA,
// after the code it uses; compiled with that level's flags. Include it nowhere else.
#if !defined(FASTMLP_KERNEL_NS) || !defined(FASTMLP_GEMM_ISA) || !FASTMLP_GEMM_ISA
#error "gemm_ukernel.hpp is part of gemm.cpp: include it only there, inside #if FASTMLP_GEMM_ISA"
#endif

// ---------------------------------------------------------------------------------------------
// Micro-kernel.
//
// How A is addressed (op(A)(i, p) for the tile's rows i and depth p):
//   A_COLS: a[i + p*sa]  -- consecutive rows are contiguous (op(A) = A^T stored K x M, sa = lda)
//   A_ROWS: a[i*sa + p]  -- consecutive depths are contiguous (A stored M x K, sa = lda)
// B: row p of the tile is b + p*sb (packed: sb = nr; unpacked: sb = ldb). With MASKB the last
// vector of each B row is loaded with the lane mask (unpacked B, right edge).
// C tile: MR rows at stride ldc; the last vector of each row has `tail` valid lanes (1..W).
enum AMode : int { A_COLS = 0, A_ROWS = 1 };

// alpha and beta come through memory (ab[0], ab[1]) so that they do not occupy a vector register
// during the k loop (with AVX2's 16 registers gcc otherwise spills a B vector to the stack).
// pf > 0 (A_COLS only): prefetch A's row pf k steps ahead (see gemm_blocked).
template <class T>
using Ukr = void (*)(Index kc, const T* a, Index sa, const T* b, Index sb, T* c, Index ldc, const T* ab, int tail,
                     int pf);

template <class T, int MR, int NV, int AM, bool MASKB>
void ukernel(Index kc, const T* __restrict a, Index sa, const T* __restrict b, Index sb, T* __restrict c, Index ldc,
             const T* ab, int tail, int pf) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  [[maybe_unused]] const auto bmask = S::mask(MASKB ? tail : W);  // only live in the loop if MASKB

  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) acc[i][j] = S::zero();

#ifndef FASTMLP_GEMM_NO_PREFETCH_C
  // Fetch the C tile while the k loop runs: it is usually far out of L1 (C is touched once per
  // kc block), and waiting for it at the write-back would stall every kernel call.
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    const char* cr = reinterpret_cast<const char*>(c + i * ldc);
#pragma GCC unroll 8
    for (int l = 0; l < NV * W * int(sizeof(T)); l += 64) __builtin_prefetch(cr + l, 1, 3);
    __builtin_prefetch(cr + NV * W * sizeof(T) - 1, 1, 3);
  }
#endif

  const T* ar[MR];  // A_ROWS: one pointer per row, indexed by p
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) ar[i] = a + i * sa;

  // Four k steps per loop trip: the loop's counter, compare and branch (and, for A_ROWS, the index
  // step) are paid once per four. Same FMAs in the same order, so the same bits. In-process A/B (Zen 4,
  // one thread, a whole training step's products): AVX-512 +2-5% at batch 512 and 2048, float and
  // double; AVX2 +0-2% on a quiet host and +3-4% at batch 32-128 while the host was busy (fewer
  // instructions per FMA: the AVX2 kernel issues twice as many as the AVX-512 one for the same work).
#pragma GCC unroll 4
  for (Index p = 0; p < kc; ++p) {
    V bv[NV];
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) bv[j] = (MASKB && j == NV - 1) ? S::loadm(b + j * W, bmask) : S::load(b + j * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V av = S::set1(AM == A_ROWS ? ar[i][p] : a[i]);
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = S::fma(av, bv[j], acc[i][j]);
    }
    if (AM == A_COLS && pf) __builtin_prefetch(a + pf * sa, 0, 3);
    b += sb;
    if (AM == A_COLS) a += sa;
  }

  // C = alpha * acc + beta * C; C is not read when beta == 0. Written without a separate multiply
  // feeding an add, so that the compiler has nothing to contract into an FMA in some instantiations
  // of this template and not in others: a column then rounds the same in every tile width, which
  // lets threads split the columns anywhere on a vector boundary (see gemm() below).
  const T alpha = ab[0], beta = ab[1];
  const V va = S::set1(alpha), vb = S::set1(beta);
  const auto mask = S::mask(tail);
  const bool full = tail == W;
  const int bmode = beta == T(0) ? 0 : beta == T(1) ? 1 : 2;
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    T* cr = c + i * ldc;
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) {
      const bool part = j == NV - 1 && !full;
      V r;
      if (bmode == 0) {
        r = S::mul(va, acc[i][j]);
      } else {
        const V old = part ? S::loadm(cr + j * W, mask) : S::load(cr + j * W);
        r = S::fma(va, acc[i][j], bmode == 1 ? old : S::mul(vb, old));
      }
      if (part)
        S::storem(cr + j * W, mask, r);
      else
        S::store(cr + j * W, r);
    }
  }
}

// Dispatch tables: entry [(mr - 1) * MAXNV + (nv - 1)] = kernel for an mr x nv-vector tile
// (nullptr for tiles with more than MAX_ACC accumulators, which are never requested).
template <class T, int MR, int NV, int AM, bool MASKB>
constexpr Ukr<T> kernel_or_null() {
  if constexpr (MR * NV <= Simd<T>::MAX_ACC)
    return &ukernel<T, MR, NV, AM, MASKB>;
  else
    return nullptr;
}
template <class T, int MAXNV, int AM, bool MASKB, int... Is>
constexpr std::array<Ukr<T>, sizeof...(Is)> make_table(std::integer_sequence<int, Is...>) {
  return {{kernel_or_null<T, Is / MAXNV + 1, Is % MAXNV + 1, AM, MASKB>()...}};
}

// Packed path: up to MR rows x NVP vectors, B packed (no B mask).
template <class T>
struct PackedKernels {
  static constexpr int MR = Simd<T>::MR, NVP = Simd<T>::NVP;
  static constexpr auto seq = std::make_integer_sequence<int, MR * NVP>{};
  static constexpr std::array<Ukr<T>, MR * NVP> table[2] = {make_table<T, NVP, A_COLS, false>(seq),
                                                            make_table<T, NVP, A_ROWS, false>(seq)};
  static Ukr<T> get(int am, int mr, int nv) { return table[am][(mr - 1) * NVP + (nv - 1)]; }
};

// Unpacked path (small M): up to MR rows x 16 vectors, B read in place with the edge mask.
template <class T>
struct DirectKernels {
  static constexpr int MR = Simd<T>::MR, MAXNV = 16;
  static constexpr auto seq = std::make_integer_sequence<int, MR * MAXNV>{};
  static constexpr std::array<Ukr<T>, MR * MAXNV> table[2] = {make_table<T, MAXNV, A_COLS, true>(seq),
                                                              make_table<T, MAXNV, A_ROWS, true>(seq)};
  static Ukr<T> get(int am, int mr, int nv) { return table[am][(mr - 1) * MAXNV + (nv - 1)]; }
  // Tile for an M-row problem: enough independent accumulators (>= 8) for the FMA latency.
  static void tile(Index M, int& mr, int& nv) {
    // M = 1: one kernel call covers a whole 256-wide row of B (sequential reads of B).
#if FASTMLP_GEMM_ISA == 512
    static constexpr int nv_for[5] = {0, 16, 8, 6, 5};
#else
    static constexpr int nv_for[5] = {0, 12, 6, 4, 2};
#endif
    if (M <= 4) {
      mr = static_cast<int>(M);
      nv = nv_for[M];
    } else {
      mr = std::min<int>(MR, static_cast<int>(M));
      nv = Simd<T>::NVP;
    }
  }
};
