// Correctness check and microbenchmark of fastmlp::gemm against Eigen (see README.md).
//
//   g++ -O3 -march=x86-64-v4 -DNDEBUG -I cpp/include -I <eigen include dir>
//       bench/gemm/bench_gemm.cpp cpp/src/gemm.cpp -o /tmp/bench_gemm
//   /tmp/bench_gemm                 # check + float benchmark
//   /tmp/bench_gemm --check         # correctness only;  --bench: timings only
//   options: --reps N (default 15), --double (benchmark double too), --quick (fewer shapes),
//            --min-ms X (minimum time of one repetition, default 2), --wall (wall clock instead of
//            thread CPU time)
#include "fastmlp/gemm.hpp"

#include <Eigen/Core>

#include <time.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

using fastmlp::Index;
template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stride = Eigen::OuterStride<>;

static std::mt19937_64 rng(12345);

template <class T>
static void fill_random(std::vector<T>& v) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (auto& x : v) x = static_cast<T>(u(rng));
}

// ---------------------------------------------------------------------------------------------
// Correctness: C = alpha op(A) op(B) + beta C against a double-precision Eigen reference, with a
// componentwise bound |C - ref| <= tol * (|alpha| (|op(A)| |op(B)|) + |beta C0|) + tiny.

struct CheckStats {
  long cases = 0, failures = 0;
  double worst = 0;  // largest error / bound ratio * tol, i.e. the effective relative error
};

template <class T>
static bool check_one(bool ta, bool tb, Index M, Index N, Index K, T alpha, T beta, Index pad, CheckStats& st) {
  const Index ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
  const Index lda = ac + pad, ldb = bc + pad, ldc = N + pad;
  std::vector<T> A(std::max<Index>(1, ar * lda)), B(std::max<Index>(1, br * ldb)), C(std::max<Index>(1, M * ldc));
  fill_random(A);
  fill_random(B);
  fill_random(C);
  if (beta == T(0)) std::fill(C.begin(), C.end(), std::numeric_limits<T>::quiet_NaN());
  // Padding columns of C get a sentinel that must survive.
  const T sentinel = T(12345.5);
  for (Index i = 0; i < M; ++i)
    for (Index j = N; j < ldc; ++j) C[i * ldc + j] = sentinel;
  const std::vector<T> C0 = C;

  fastmlp::gemm<T>(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);

  Eigen::Map<const Mat<T>, 0, Stride> Am(A.data(), ar, ac, Stride(lda)), Bm(B.data(), br, bc, Stride(ldb)),
      C0m(C0.data(), M, N, Stride(ldc));
  const Mat<double> opA =
      ta ? Mat<double>(Am.template cast<double>().transpose()) : Mat<double>(Am.template cast<double>());
  const Mat<double> opB =
      tb ? Mat<double>(Bm.template cast<double>().transpose()) : Mat<double>(Bm.template cast<double>());
  Mat<double> ref = double(alpha) * opA * opB;
  Mat<double> bound = std::abs(double(alpha)) * opA.cwiseAbs() * opB.cwiseAbs();
  if (beta != T(0)) {
    ref += double(beta) * C0m.template cast<double>();
    bound += std::abs(double(beta)) * C0m.template cast<double>().cwiseAbs();
  }
  const double tol = std::is_same<T, float>::value ? 1e-5 : 1e-12;
  const double tiny = std::is_same<T, float>::value ? 1e-30 : 1e-300;
  bool ok = true;
  for (Index i = 0; i < M; ++i) {
    for (Index j = 0; j < N; ++j) {
      const double c = C[i * ldc + j], err = std::abs(c - ref(i, j));
      const double lim = tol * bound(i, j) + tiny;
      if (!(err <= lim)) ok = false;  // also catches NaN
      if (bound(i, j) > 0) st.worst = std::max(st.worst, err / bound(i, j));
    }
    for (Index j = N; j < ldc; ++j)
      if (C[i * ldc + j] != sentinel) ok = false;
  }
  ++st.cases;
  if (!ok) {
    ++st.failures;
    if (st.failures <= 10)
      std::printf("  FAIL %s ta=%d tb=%d M=%ld N=%ld K=%ld alpha=%g beta=%g pad=%ld\n",
                  std::is_same<T, float>::value ? "float" : "double", ta, tb, long(M), long(N), long(K), double(alpha),
                  double(beta), long(pad));
  }
  return ok;
}

template <class T>
static CheckStats check_all() {
  CheckStats st;
  const Index sizes[] = {1, 2, 3, 7, 15, 17, 31, 33, 100};
  const T ab[][2] = {{T(1), T(0)}, {T(-0.37), T(1)}, {T(0.5), T(-1.5)}};
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      for (Index M : sizes)
        for (Index N : sizes)
          for (Index K : sizes)
            for (const auto& v : ab) check_one<T>(ta, tb, M, N, K, v[0], v[1], 0, st);
      // Strided (padded) leading dimensions, K = 0, alpha = 0, and sizes crossing the cache
      // blocks (kc, mc, nc) and the small-M paths.
      const Index big[][3] = {{1, 784, 256},  {1, 256, 784}, {2, 100, 300},  {3, 129, 77},    {4, 250, 513},
                              {5, 64, 600},   {8, 40, 70},   {300, 70, 600}, {520, 130, 270}, {129, 2100, 33},
                              {64, 10, 1000}, {784, 10, 64}, {33, 784, 10},  {1000, 3, 5},    {37, 4099, 9},
                              {16, 256, 784}, {32, 130, 70}, {32, 300, 1700}};  // last 3: gemm_transposed
      for (const auto& s : big)
        for (const auto& v : ab) check_one<T>(ta, tb, s[0], s[1], s[2], v[0], v[1], 0, st);
      for (Index M : {1, 5, 33})
        for (const auto& v : ab) {
          check_one<T>(ta, tb, M, 19, 23, v[0], v[1], 5, st);
          check_one<T>(ta, tb, M, 19, 0, v[0], v[1], 1, st);
          check_one<T>(ta, tb, M, 19, 23, T(0), v[1], 2, st);
          check_one<T>(ta, tb, 32, 150, 70, v[0], v[1], 3, st);  // gemm_transposed, padded
        }
    }
  return st;
}

// ---------------------------------------------------------------------------------------------
// Timing.

using Clock = std::chrono::steady_clock;

// Timing clock: this thread's CPU time by default (robust against time-slicing on a shared machine;
// it still counts cache/memory interference), wall clock with --wall.
static bool g_wall = false;
static double now_s() {
  if (g_wall) return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Opts {
  int reps = 15;
  double min_ms = 2.0;
  bool quick = false;
};

// Times f (one call) as the median over reps of (calls per rep) batched calls; returns seconds/call.
template <class F>
static double time_calls(F&& f, long calls, int reps, std::vector<double>& out) {
  out.clear();
  for (int r = 0; r < reps; ++r) {
    const double t0 = now_s();
    for (long c = 0; c < calls; ++c) f();
    out.push_back((now_s() - t0) / double(calls));
  }
  return median(out);
}

enum Op { NN, TN, NT };
static const char* op_name(Op op) { return op == NN ? "NN fwd" : op == TN ? "TN dW " : "NT dX "; }

// One op on one shape: returns {ours, eigen} seconds per call (medians, interleaved repetitions).
template <class T>
static std::pair<double, double> bench_op(Op op, Index M, Index N, Index K, const Opts& o) {
  const bool ta = op == TN, tb = op == NT;
  const Index ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
  std::vector<T> A(ar * ac), B(br * bc), C1(M * N), C2(M * N);
  fill_random(A);
  fill_random(B);
  Eigen::Map<const Mat<T>> Am(A.data(), ar, ac), Bm(B.data(), br, bc);
  Eigen::Map<Mat<T>> C2m(C2.data(), M, N);
  auto ours = [&] { fastmlp::gemm<T>(ta, tb, M, N, K, T(1), A.data(), ac, B.data(), bc, T(0), C1.data(), N); };
  auto eig = [&] {
    if (op == NN)
      C2m.noalias() = Am * Bm;
    else if (op == TN)
      C2m.noalias() = Am.transpose() * Bm;
    else
      C2m.noalias() = Am * Bm.transpose();
  };
  // Calibrate the number of calls per repetition from one (warm) call of each.
  ours();
  eig();
  const double t0 = now_s();
  ours();
  eig();
  const double one = (now_s() - t0) / 2;
  const long calls = std::max<long>(1, long(o.min_ms * 1e-3 / std::max(one, 1e-9)));
  std::vector<double> a, b, tmp;
  for (int r = 0; r < o.reps; ++r) {  // interleave so background load hits both alike
    a.push_back(time_calls(ours, calls, 1, tmp));
    b.push_back(time_calls(eig, calls, 1, tmp));
  }
  // Sanity: both produced the same product.
  double md = 0, mx = 0;
  for (Index i = 0; i < M * N; ++i) {
    md = std::max(md, double(std::abs(C1[i] - C2[i])));
    mx = std::max(mx, double(std::abs(C2[i])));
  }
  if (md > 1e-4 * (mx + 1) * std::sqrt(double(K))) std::printf("  WARNING: result differs from Eigen by %g\n", md);
  return {median(a), median(b)};
}

template <class T>
static void bench_all(const Opts& o) {
  const char* tn = std::is_same<T, float>::value ? "float" : "double";
  std::printf("\n## GFLOP/s, %s, 1 thread, median of %d reps, %s time (fastmlp vs Eigen)\n\n", tn, o.reps,
              g_wall ? "wall" : "thread CPU");
  std::printf(
      "| op | M | N | K | m | layer | fastmlp | Eigen | ratio |\n|---|---:|---:|---:|---:|---|---:|---:|---:|\n");
  std::vector<Index> ms = {1, 32, 128, 512, 2048, 10000};
  if (o.quick) ms = {1, 32, 512, 2048};
  const Index layers[][2] = {{784, 256}, {256, 128}, {128, 10}};
  for (Index m : ms) {
    double tot_ours = 0, tot_eig = 0, tot_flop = 0;
    for (const auto& L : layers)
      for (Op op : {NN, TN, NT}) {
        const Index d = L[0], k = L[1];
        Index M, N, K;
        if (op == NN)
          M = m, N = k, K = d;
        else if (op == TN)
          M = d, N = k, K = m;
        else
          M = m, N = d, K = k;
        const auto t = bench_op<T>(op, M, N, K, o);
        const double fl = 2.0 * M * N * K;
        std::printf("| %s | %ld | %ld | %ld | %ld | %ld-%ld | %.1f | %.1f | %.2f |\n", op_name(op), long(M), long(N),
                    long(K), long(m), long(d), long(k), fl / t.first * 1e-9, fl / t.second * 1e-9, t.second / t.first);
        // Training step of the net: all forward + weight products, backprop of layers 2, 3.
        if (!(op == NT && d == 784)) {
          tot_ours += t.first;
          tot_eig += t.second;
          tot_flop += fl;
        }
      }
    std::printf("| **step** | | | | %ld | 784-256-128-10 | **%.1f** | **%.1f** | **%.2f** |\n", long(m),
                tot_flop / tot_ours * 1e-9, tot_flop / tot_eig * 1e-9, tot_eig / tot_ours);
    std::fflush(stdout);
  }

  // Latency of a single-sample forward pass through the whole net (3 NN products, no bias/act).
  std::vector<T> x(784), W1(784 * 256), W2(256 * 128), W3(128 * 10), h1(256), h2(128), y(10);
  fill_random(x), fill_random(W1), fill_random(W2), fill_random(W3);
  auto ours = [&] {
    fastmlp::gemm<T>(false, false, 1, 256, 784, T(1), x.data(), 784, W1.data(), 256, T(0), h1.data(), 256);
    fastmlp::gemm<T>(false, false, 1, 128, 256, T(1), h1.data(), 256, W2.data(), 128, T(0), h2.data(), 128);
    fastmlp::gemm<T>(false, false, 1, 10, 128, T(1), h2.data(), 128, W3.data(), 10, T(0), y.data(), 10);
  };
  using RV = Eigen::Matrix<T, 1, Eigen::Dynamic>;
  Eigen::Map<const RV> xm(x.data(), 784);
  Eigen::Map<RV> h1m(h1.data(), 256), h2m(h2.data(), 128), ym(y.data(), 10);
  Eigen::Map<const Mat<T>> W1m(W1.data(), 784, 256), W2m(W2.data(), 256, 128), W3m(W3.data(), 128, 10);
  auto eig = [&] {
    h1m.noalias() = xm * W1m;
    h2m.noalias() = h1m * W2m;
    ym.noalias() = h2m * W3m;
  };
  std::vector<double> a, b, tmp;
  ours(), eig();
  for (int r = 0; r < o.reps; ++r) {
    a.push_back(time_calls(ours, 2000, 1, tmp));
    b.push_back(time_calls(eig, 2000, 1, tmp));
  }
  std::printf(
      "\nSingle-sample forward 784-256-128-10 (3 products, weights hot in cache): fastmlp %.2f us, "
      "Eigen %.2f us\n",
      median(a) * 1e6, median(b) * 1e6);
}

int main(int argc, char** argv) {
  bool check = true, bench = true, dbl = false;
  Opts o;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "--check")
      bench = false;
    else if (s == "--bench")
      check = false;
    else if (s == "--double")
      dbl = true;
    else if (s == "--wall")
      g_wall = true;
    else if (s == "--quick")
      o.quick = true, o.reps = std::min(o.reps, 7);
    else if (s == "--reps" && i + 1 < argc)
      o.reps = std::atoi(argv[++i]);
    else if (s == "--min-ms" && i + 1 < argc)
      o.min_ms = std::atof(argv[++i]);
    else {
      std::printf("usage: %s [--check|--bench] [--double] [--quick] [--reps N] [--min-ms X] [--wall]\n", argv[0]);
      return 2;
    }
  }
  std::printf("fastmlp::gemm ISA: %s, Eigen SIMD: %s\n", fastmlp::gemm_isa(), Eigen::SimdInstructionSetsInUse());
  int rc = 0;
  if (check) {
    const auto f = check_all<float>();
    std::printf("check float : %ld cases, %ld failures, max |err|/bound = %.2e (tol 1e-5)\n", f.cases, f.failures,
                f.worst);
    const auto d = check_all<double>();
    std::printf("check double: %ld cases, %ld failures, max |err|/bound = %.2e (tol 1e-12)\n", d.cases, d.failures,
                d.worst);
    rc = (f.failures || d.failures) ? 1 : 0;
  }
  if (bench) {
    bench_all<float>(o);
    if (dbl) bench_all<double>(o);
  }
  return rc;
}
