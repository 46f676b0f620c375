// Single-threaded GEMM for the MLP shapes; see fastmlp/gemm.hpp for the interface.
//
// Layout of the algorithm (names as in the BLIS papers; row-major C, vectors run along N):
//
//   for jc in N step nc                       B panel  (kc x nc)  packed into Bp, lives in L2/L3
//     for pc in K step kc                     first kc block applies beta, later ones add (beta = 1)
//       pack op(B)[pc:pc+kc, jc:jc+nc] -> Bp  as nr-wide micro-panels, each kc x nr contiguous
//       for ic in M step mc                   A block  (mc x kc)  read in place, lives in L2
//         for jr in nc step nr                B micro-panel (kc x nr) stays in L1 across the ir loop
//           for ir in mc step mr
//             micro-kernel: C[ir:+mr, jr:+nr] (+)= alpha * A[ir:+mr, :] * Bp[:, jr:+nr]
//
// A is not packed: the micro-kernel broadcasts A elements straight from the caller's matrix, which
// works for both layouts (op(A)(i,p) = A[i*lda + p] or A[p*lda + i]) and saves the transposing copy
// that would otherwise cost ~30/N of the run time for N = 128..256. B is packed (it is the operand
// loaded as full vectors, and the packing does the transpose for trans_b).
//
// Micro-kernel: an mr x (NV*W) tile of C held in NV*mr vector registers (W = lanes per vector).
// Each k step loads NV vectors of B, and for each of the mr rows broadcasts one A element and does
// NV FMAs. AVX-512: float 8 x 48 / double 8 x 24 (24 zmm accumulators of 32); AVX2: 6 x 16 / 6 x 8
// (12 ymm accumulators of 16). Edge tiles use the same code instantiated for fewer rows / vectors,
// with a lane mask on the last vector of each C row (dispatch tables below), so every size is exact.
//
// Small M with non-transposed B (e.g. a single-sample forward pass) skips packing altogether and
// runs the kernel directly on B's rows (masked loads at the right edge), with a wider tile so that
// there are enough independent FMA chains. Small M with transposed B (backprop of one sample) and
// K >= 2W uses a dot-product kernel, since there both operands are contiguous along K. A few rows
// against many columns (M = 16..32, N >= 4M) runs as C^T = op(B)^T op(A)^T, which packs the few rows
// instead of the large op(B) (gemm_transposed).
//
// Here: the blocking, the packing, gemm_blocked, gemm_transposed, sgd_rank1, gemm() and rows_finite().
// The vector types (Simd<T>) are in gemm_simd.hpp, the micro-kernel and its tables in gemm_ukernel.hpp,
// the small-M paths in gemm_small.hpp: private headers included below, so each SIMD level is still one
// translation unit.
#include "fastmlp/gemm.hpp"
#include "fastmlp/threads.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>

#if defined(__AVX512F__)
#define FASTMLP_GEMM_ISA 512
#elif defined(__AVX2__) && defined(__FMA__)
#define FASTMLP_GEMM_ISA 256
#else
#define FASTMLP_GEMM_ISA 0
#endif

#if FASTMLP_GEMM_ISA
#include <immintrin.h>
#endif

// This file is compiled once per SIMD level (CMakeLists.txt: the portable build, then -march=x86-64-v3
// and -march=x86-64-v4), each build in its own namespace (fastmlp::kernels_v3, ...) so that no symbol
// is shared between builds; cpu_dispatch.cpp defines fastmlp::gemm and picks one build at run time.
#ifndef FASTMLP_KERNEL_NS
#error \
    "FASTMLP_KERNEL_NS must name this build's namespace: CMakeLists.txt passes it; built by hand, use -DFASTMLP_KERNEL_NS=kernels_base and add cpu_dispatch.cpp"
#endif

namespace fastmlp {
namespace FASTMLP_KERNEL_NS {
namespace {

// ---------------------------------------------------------------------------------------------
// Helpers shared by all builds.

// C = beta * C (beta == 0 writes zeros, never reads C).
template <class T>
void scale_c(Index M, Index N, T beta, T* C, Index ldc) {
  for (Index i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0))
      std::fill(c, c + N, T(0));
    else if (beta != T(1))
      for (Index j = 0; j < N; ++j) c[j] *= beta;
  }
}

// Reference path: Eigen's product on strided maps. Used where no SIMD kernel is compiled in.
template <class T>
[[maybe_unused]] void gemm_eigen(bool ta, bool tb, Index M, Index N, Index K, T alpha, const T* A, Index lda,
                                 const T* B, Index ldb, T beta, T* C, Index ldc) {
  using Mat = Matrix<T>;
  using Stride = Eigen::OuterStride<>;
  using CMap = Eigen::Map<const Mat, 0, Stride>;
  Eigen::Map<Mat, 0, Stride> Cm(C, M, N, Stride(ldc));
  const CMap Am(A, ta ? K : M, ta ? M : K, Stride(lda));
  const CMap Bm(B, tb ? N : K, tb ? K : N, Stride(ldb));
  auto run = [&](const auto& opA, const auto& opB) {
    if (beta == T(0)) {
      Cm.noalias() = alpha * opA * opB;
    } else {
      if (beta != T(1)) Cm *= beta;
      Cm.noalias() += alpha * opA * opB;
    }
  };
  if (!ta && !tb)
    run(Am, Bm);
  else if (ta && !tb)
    run(Am.transpose(), Bm);
  else if (!ta && tb)
    run(Am, Bm.transpose());
  else
    run(Am.transpose(), Bm.transpose());
}

#if FASTMLP_GEMM_ISA

#include "gemm_simd.hpp"

// Cache blocking (elements). kc: depth of one pass; every further pass over K reads and writes the
// whole C block again. mc: the A block mc x kc (200 KiB float at the defaults) stays in L2 (1 MiB)
// across the jr loop; nc: the packed B panel kc x nc in L2/L3. Float: kc = 800 runs K = 784 (the
// input layer) in one pass, where kc = 256 made four passes over C; with mc = 64 (from 256) that
// measured +6-14% on the batch-2048 and 10,000 training/inference products and no loss at batch
// 32-512 (Zen 4, AVX-512 and AVX2, products' speed relative to Eigen's in the same binary, 2 runs);
// AVX2 takes 66, so that a block is whole 6-row tiles (tile_rows).
// Double keeps kc = 128 (not re-measured). FASTMLP_GEMM_{KC,MC,NC,SMALL_M} override them.
template <class T>
struct Blocking {
#ifdef FASTMLP_GEMM_KC
  static constexpr Index KC = FASTMLP_GEMM_KC;
#else
  static constexpr Index KC = sizeof(T) == 4 ? 800 : 128;
#endif
#ifdef FASTMLP_GEMM_MC
  static constexpr Index MC = FASTMLP_GEMM_MC;
#else
  static constexpr Index MC = (64 + Simd<T>::MR - 1) / Simd<T>::MR * Simd<T>::MR;  // whole tiles: 64, AVX2 66
#endif
#ifdef FASTMLP_GEMM_NC
  static constexpr Index NC = FASTMLP_GEMM_NC;
#else
  static constexpr Index NC = 8192 / sizeof(T);  // 2048 float, 1024 double
#endif
#ifdef FASTMLP_GEMM_SMALL_M
  static constexpr Index SMALL_M = FASTMLP_GEMM_SMALL_M;
#else
  static constexpr Index SMALL_M = 4;  // M <= SMALL_M: no packing (gemm_direct / gemm_dot)
#endif
#ifdef FASTMLP_GEMM_DIRECT_M
  static constexpr Index DIRECT_M = FASTMLP_GEMM_DIRECT_M;
#else
  static constexpr Index DIRECT_M = SMALL_M;  // op(B) = B and M <= DIRECT_M: gemm_direct
#endif
};

#include "gemm_ukernel.hpp"

// ---------------------------------------------------------------------------------------------
// Packing of op(B)[p0:p0+kc, j0:j0+nc] into micro-panels of nr = NVP*W columns: panel q holds
// columns q*nr .. q*nr+nr-1 as kc rows of nr contiguous values, zero-padded past nc.

// In-register transpose of a W x W block by log2(W) rounds of "zip row i with row i + W/2"
// (each round rotates the bits of the element index by one; after log2(W) rounds rows and
// columns have swapped).
template <class T>
inline void transpose_block(typename Simd<T>::V* r) {
  using S = Simd<T>;
  constexpr int W = S::W, H = W / 2;
#pragma GCC unroll 4
  for (int round = 1; round < W; round *= 2) {
    typename S::V n[W];
#pragma GCC unroll 16
    for (int i = 0; i < H; ++i) {
      n[2 * i] = S::zip_lo(r[i], r[i + H]);
      n[2 * i + 1] = S::zip_hi(r[i], r[i + H]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < W; ++i) r[i] = n[i];
  }
}

template <class T>
void pack_b(bool tb, const T* B, Index ldb, Index p0, Index j0, Index kc, Index nc, T* Bp) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int W = S::W, NVP = S::NVP, NR = NVP * W;
  for (Index q = 0; q < nc; q += NR, Bp += kc * NR) {
    const Index nq = std::min<Index>(NR, nc - q);  // valid columns in this panel
    if (!tb) {
      // op(B) = B: row p of the panel is a contiguous slice of B's row p0 + p.
      const T* src = B + p0 * ldb + j0 + q;
      if (nq == NR) {
        for (Index p = 0; p < kc; ++p, src += ldb)
#pragma GCC unroll 4
          for (int v = 0; v < NVP; ++v) S::store(Bp + p * NR + v * W, S::load(src + v * W));
      } else {
        for (Index p = 0; p < kc; ++p, src += ldb)
          for (int v = 0; v < NVP; ++v) {
            const Index lanes = nq - v * W;
            const V x = lanes >= W  ? S::load(src + v * W)
                        : lanes > 0 ? S::loadm(src + v * W, S::mask(int(lanes)))
                                    : S::zero();
            S::store(Bp + p * NR + v * W, x);
          }
      }
    } else {
      // op(B) = B^T, B stored N x K: W columns of the panel are W rows of B; transpose
      // W x W blocks in registers.
      for (int v = 0; v < NVP; ++v) {
        const Index jb = q + v * W;                           // first panel column of this block
        const Index rows = std::clamp<Index>(nc - jb, 0, W);  // valid B rows
        for (Index pb = 0; pb < kc; pb += W) {
          const int pv = static_cast<int>(std::min<Index>(W, kc - pb));
          V r[W];
          const T* src = B + (j0 + jb) * ldb + p0 + pb;
          if (pv == W) {
#pragma GCC unroll 16
            for (int t = 0; t < W; ++t) r[t] = t < rows ? S::load(src + t * ldb) : S::zero();
          } else {
            const auto m = S::mask(pv);
#pragma GCC unroll 16
            for (int t = 0; t < W; ++t) r[t] = t < rows ? S::loadm(src + t * ldb, m) : S::zero();
          }
          transpose_block<T>(r);
          for (int s = 0; s < pv; ++s) S::store(Bp + (pb + s) * NR + v * W, r[s]);
        }
      }
    }
  }
}

// 64-byte aligned, grow-only, per-thread scratch buffer; Slot tells independent buffers apart (0: packed B,
// 1: C^T in gemm_transposed, which calls gemm_blocked and so holds both at once).
template <class T, int Slot = 0>
T* scratch(std::size_t n) {
  struct Buf {
    T* p = nullptr;
    std::size_t cap = 0;
    ~Buf() { std::free(p); }
  };
  static thread_local Buf buf;
  if (n > buf.cap) {
    std::free(buf.p);
    const std::size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
    buf.p = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (!buf.p) throw std::bad_alloc();
    buf.cap = n;
  }
  return buf.p;
}

#include "gemm_small.hpp"

// ---------------------------------------------------------------------------------------------
// General path: blocked, B packed, A read in place.

// Height of the next row tile when `rest` rows are left: MR, except that the last MR + 1 .. MR + 3 rows
// become two tiles of about half (AVX2, 8 rows: 4 + 4, not 6 + 2: a 2-row tile has 2 * nv FMA chains, too
// few to cover the FMA latency on two pipes). Full-height tiles do the most FMAs per load: with the
// earlier equal heights (64 rows as 9 x 6 + 2 x 5), the 5-row AVX2 tiles took 1.16x the time per FLOP of
// the 6-row ones. Every row's arithmetic is the same in any tile, so this changes no result.
template <int MR>
Index tile_rows(Index rest) {
  if (rest <= MR) return rest;
  if (rest < MR + 4) return (rest + 1) / 2;
  return MR;
}
template <class T>
void gemm_blocked(bool ta, bool tb, Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb,
                  T beta, T* C, Index ldc) {
  using S = Simd<T>;
  using Bk = Blocking<T>;
  constexpr int W = S::W, MR = S::MR, NR = S::NVP * W;
  const Index NCr = (Bk::NC + NR - 1) / NR * NR;
  const int am = ta ? A_COLS : A_ROWS;

  // Equal kc blocks (2048 = 3 x 683, not 2 x 800 + 448): a short last block pays the C tile's load and
  // store for few FMAs. Depends on K only, so every thread count sums in the same blocks.
  const Index KCb = (K + (K + Bk::KC - 1) / Bk::KC - 1) / ((K + Bk::KC - 1) / Bk::KC);
  T* Bp = scratch<T>(static_cast<std::size_t>(KCb * std::min(NCr, (N + NR - 1) / NR * NR)));
  for (Index jc = 0; jc < N; jc += NCr) {
    const Index nc = std::min(NCr, N - jc);
    for (Index pc = 0; pc < K; pc += KCb) {
      const Index kc = std::min(KCb, K - pc);
      const T ab[2] = {alpha, pc == 0 ? beta : T(1)};  // later kc blocks accumulate
      pack_b(tb, B, ldb, pc, jc, kc, nc, Bp);
      for (Index ic = 0; ic < M; ic += Bk::MC) {
        const Index mc = std::min(Bk::MC, M - ic);
        // op(A)[ic, pc] in the caller's matrix
        const T* ablk = ta ? A + pc * lda + ic : A + ic * lda + pc;
        // op(A) = A^T read in place: each k step of a tile reads MR values from the next row of A. With
        // rows 3 KiB apart (dW of the 784-wide input layer) the hardware prefetchers fall behind, and
        // the AVX2 kernel (12 FMAs per k step, half of AVX-512's) waits for A: prefetching 8 rows ahead
        // made that product 6-10% faster on AVX2 (Zen 4, `FASTMLP_ARCH=v3`); with rows 1 KiB apart
        // (the 256-wide layer) it cost 2-8%, so it is off there; AVX-512 did not change.
        const int pf = FASTMLP_GEMM_ISA == 256 && ta && lda * Index(sizeof(T)) > 2048 ? 8 : 0;
        for (Index jr = 0; jr < nc; jr += NR) {
          const int nb = static_cast<int>(std::min<Index>(NR, nc - jr));
          const int nv = (nb + W - 1) / W, tail = nb - (nv - 1) * W;
          const T* bp = Bp + jr * kc;  // micro-panel jr / NR
          T* cblk = C + ic * ldc + jc + jr;
          for (Index ir = 0; ir < mc;) {
            const Index h = tile_rows<MR>(mc - ir);
            PackedKernels<T>::get(am, static_cast<int>(h), nv)(kc, ta ? ablk + ir : ablk + ir * lda, lda, bp, NR,
                                                               cblk + ir * ldc, ldc, ab, tail, pf);
            ir += h;
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Few rows, many columns.

// dst (cols x rows, stride ldd) = src^T (src rows x cols, stride lds), W x W blocks transposed in registers.
template <class T>
void transpose_copy(Index rows, Index cols, const T* src, Index lds, T* dst, Index ldd) {
  using S = Simd<T>;
  constexpr int W = S::W;
  for (Index r0 = 0; r0 < rows; r0 += W) {
    const int nr = static_cast<int>(std::min<Index>(W, rows - r0));
    const auto mrow = S::mask(nr);
    for (Index c0 = 0; c0 < cols; c0 += W) {
      const int nc = static_cast<int>(std::min<Index>(W, cols - c0));
      const auto mcol = S::mask(nc);
      typename S::V v[W];
#pragma GCC unroll 16
      for (int t = 0; t < W; ++t) {
        const T* p = src + (r0 + t) * lds + c0;
        v[t] = t >= nr ? S::zero() : nc == W ? S::load(p) : S::loadm(p, mcol);
      }
      transpose_block<T>(v);  // v[s] = column c0 + s of the block
      for (int s = 0; s < nc; ++s) {
        T* q = dst + (c0 + s) * ldd + r0;
        if (nr == W)
          S::store(q, v[s]);
        else
          S::storem(q, mrow, v[s]);
      }
    }
  }
}

// A forward pass at batch 16-32 (32 x 784 @ 784 x 256): gemm_blocked would pack all of op(B) (the 800 KB
// weight matrix, ~8% of a batch-32 training step) to multiply it by 32 rows. Computing C^T = op(B)^T op(A)^T
// instead packs op(A) (the 100 KB batch) and reads the weights in place. Every element gets the same
// products in the same order (a*b == b*a, the same kc blocks, which depend on K only) and the same
// write-back (with beta != 0, C^T starts as a copy of C), so the bits are those of the direct path.
// Chosen in gemm() (transpose_pays).
template <class T>
void gemm_transposed(bool ta, bool tb, Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb,
                     T beta, T* C, Index ldc) {
  T* Ct = scratch<T, 1>(static_cast<std::size_t>(N * M));  // C^T, N x M
  if (beta != T(0)) transpose_copy(M, N, C, ldc, Ct, M);
  gemm_blocked(!tb, !ta, N, M, K, alpha, B, ldb, A, lda, beta, Ct, M);
  transpose_copy(N, M, Ct, M, C, ldc);
}

// Whether gemm_transposed beats gemm_blocked, from the whole product's shape (in-process A/B, Zen 4,
// v3 and v4 builds, ratio of transposed over direct): M = 16/32 rows with N = 128..256 columns and
// K = 128..784: 1.03-1.29x; M = 48 0.97-1.09x, M = 64 0.85-1.02x; K = 10 0.5x (packing op(B) is cheap
// there); M not a whole number of vectors (24 rows: 0.83-0.99x, a part-empty vector in every tile) or
// too few FMA chains for the latency (M = W on AVX2: 6 rows x 1 vector, 0.97x) lose. Double (kc = 128, so
// op(B) is packed in more passes): M = 8..32, 0.98-1.81x.
template <class T>
bool transpose_pays(Index M, Index N, Index K) {
  constexpr Index W = Simd<T>::W;
  return M <= 32 && M % W == 0 && Simd<T>::MR * (M / W) >= 8 && 4 * M <= N && K >= 64;
}

// ---------------------------------------------------------------------------------------------
// One sample's SGD step through a layer (sgd_rank1 in gemm.hpp): one pass over the rows of W, each
// row read once, dotted with y (from the old values) and written back updated.
template <class T>
void rank1_simd(Index d, Index k, T s, T alpha, const T* x, const T* y, T* W, Index ldw, T* dx) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int W_ = S::W;
  const Index kv = k / W_ * W_;  // whole vectors; the rest is one masked vector
  const int rest = static_cast<int>(k - kv);
  const auto m = S::mask(rest > 0 ? rest : W_);
  const V vs = S::set1(s);
  const bool scale = s != T(1);
  for (Index i = 0; i < d; ++i) {
    T* w = W + i * ldw;
    const V ax = S::set1(alpha * x[i]);
    V acc0 = S::zero(), acc1 = S::zero();  // two chains: the dot is latency-bound otherwise
    Index j = 0;
    auto row_step = [&](V wv, V yv, V& acc) {
      if (dx) acc = S::fma(wv, yv, acc);
      return S::fma(ax, yv, scale ? S::mul(vs, wv) : wv);
    };
    for (; j + 2 * W_ <= kv; j += 2 * W_) {
      const V y0 = S::load(y + j), y1 = S::load(y + j + W_);
      const V w0 = S::load(w + j), w1 = S::load(w + j + W_);
      S::store(w + j, row_step(w0, y0, acc0));
      S::store(w + j + W_, row_step(w1, y1, acc1));
    }
    for (; j < kv; j += W_) S::store(w + j, row_step(S::load(w + j), S::load(y + j), acc0));
    if (rest) S::storem(w + j, m, row_step(S::loadm(w + j, m), S::loadm(y + j, m), acc1));
    if (dx) {
      alignas(64) T lanes[W_];
      S::store(lanes, S::add(acc0, acc1));
      T sum = 0;
      for (int l = 0; l < W_; ++l) sum += lanes[l];
      dx[i] = sum;
    }
  }
}

#endif  // FASTMLP_GEMM_ISA

}  // namespace

template <class T>
void sgd_rank1(Index d, Index k, T s, T alpha, const T* x, const T* y, T* W, Index ldw, T* dx) {
#if FASTMLP_GEMM_ISA
  rank1_simd(d, k, s, alpha, x, y, W, ldw, dx);
#else
  for (Index i = 0; i < d; ++i) {
    T* w = W + i * ldw;
    const T ax = alpha * x[i];
    T sum = 0;
    for (Index j = 0; j < k; ++j) {
      sum += w[j] * y[j];
      w[j] = s * w[j] + ax * y[j];
    }
    if (dx) dx[i] = sum;
  }
#endif
}

template void sgd_rank1<float>(Index, Index, float, float, const float*, const float*, float*, Index, float*);
template void sgd_rank1<double>(Index, Index, double, double, const double*, const double*, double*, Index, double*);

template <class T>
void gemm(bool trans_a, bool trans_b, Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb,
          T beta, T* C, Index ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  // The path is chosen once, from the whole product's shape (gemv_narrow's N <= W is one vector of
  // columns, never split), so that splitting C across threads (below) leaves every element's
  // arithmetic unchanged.
#if FASTMLP_GEMM_ISA
  using Path = void (*)(bool, bool, Index, Index, Index, T, const T*, Index, const T*, Index, T, T*, Index);
  Path path;
  if (M <= Blocking<T>::DIRECT_M && !trans_b && N <= Simd<T>::W)
    path = [](bool ta, bool, Index m, Index n, Index k, T al, const T* a, Index la, const T* b, Index lb, T be, T* c,
              Index lc) { gemv_narrow(ta, m, n, k, al, a, la, b, lb, be, c, lc); };
  else if (M <= Blocking<T>::DIRECT_M && !trans_b)
    path = [](bool ta, bool, Index m, Index n, Index k, T al, const T* a, Index la, const T* b, Index lb, T be, T* c,
              Index lc) { gemm_direct(ta, m, n, k, al, a, la, b, lb, be, c, lc); };
  else if (M <= Blocking<T>::SMALL_M && !trans_a && K >= 2 * Simd<T>::W)  // dot products fill whole vectors
    path = [](bool, bool, Index m, Index n, Index k, T al, const T* a, Index la, const T* b, Index lb, T be, T* c,
              Index lc) { gemm_dot(m, n, k, al, a, la, b, lb, be, c, lc); };
  else if (transpose_pays<T>(M, N, K))
    path = &gemm_transposed<T>;
  else
    path = &gemm_blocked<T>;
  const double flops = 2.0 * double(M) * double(N) * double(K);
  if (path == &gemm_blocked<T> && M > N) {
    // More rows than columns (a large batch): split the rows, so that each thread reads its share of
    // A (the batch) and all of B (the weights, shared in L3), not all of A. In gemm_blocked a row's
    // arithmetic does not depend on M or on its tile, so any split gives the same results.
    parallel_for(M, flops, Simd<T>::MR, [&](Index i0, Index i1) {
      const T* a = trans_a ? A + i0 : A + i0 * lda;  // op(A) rows i0..i1
      path(trans_a, trans_b, i1 - i0, N, K, alpha, a, lda, B, ldb, beta, C + i0 * ldc, ldc);
    });
    return;
  }
  // Column chunks are whole vectors: a column gets the same lane arithmetic in any tile (ukernel's
  // write-back) and the same place in a dot tile (those start at multiples of W), and in
  // gemm_transposed it is a row of C^T, so any split gives the same results; finer than a micro-panel so that the
  // shares are even (N = 128 on 2 threads: 64 + 64 columns, where whole 48-column panels gave 48 + 80).
  parallel_for(N, flops, Simd<T>::W, [&](Index j0, Index j1) {
    // op(B) columns j0..j1: B + j0 (B as is) or rows j0.. of B (B transposed).
    const T* b = trans_b ? B + j0 * ldb : B + j0;
    path(trans_a, trans_b, M, j1 - j0, K, alpha, A, lda, b, ldb, beta, C + j0, ldc);
  });
#else
  // One thread: Eigen evaluates a one-column chunk as a GEMV, which rounds differently, so a
  // column split would make results depend on the thread count.
  gemm_eigen(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

template void gemm<float>(bool, bool, Index, Index, Index, float, const float*, Index, const float*, Index, float,
                          float*, Index);
template void gemm<double>(bool, bool, Index, Index, Index, double, const double*, Index, const double*, Index, double,
                           double*, Index);

template <class T>
bool rows_finite(const T* X, Index rows, Index cols, Index ld) {
  for (Index r = 0; r < rows; ++r)
    if (!all_finite(X + r * ld, cols)) return false;
  return true;
}

template bool rows_finite<float>(const float*, Index, Index, Index);
template bool rows_finite<double>(const double*, Index, Index, Index);

const char* gemm_isa() {
#if FASTMLP_GEMM_ISA == 512
  return "avx512";
#elif FASTMLP_GEMM_ISA == 256
  return "avx2";
#else
  return "eigen";
#endif
}

}  // namespace FASTMLP_KERNEL_NS
}  // namespace fastmlp
