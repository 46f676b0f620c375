// The run-time choice of the GEMM kernels (fastmlp/cpu.hpp). ctest runs this program once per
// level with FASTMLP_ARCH=v2|v3|v4 (exit code 77, "skipped", for a level this build lacks or this
// CPU cannot run), once without it, and once with a level that does not exist.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "fastmlp/cpu.hpp"
#include "fastmlp/fastmlp.hpp"

using namespace fastmlp;

namespace {

bool built(const std::string& level) {
  for (const auto& l : simd_levels_built())
    if (l == "x86-64-" + level || l == level) return true;
  return false;
}

// gemm at the picked level against a plain triple loop, for every transpose and a few shapes
// (edge tiles, the small-M paths, K = 0, beta = 0 and 1).
template <class T>
void gemm_matches_reference() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  const Index shapes[][3] = {{1, 10, 33}, {3, 17, 5}, {8, 48, 64}, {37, 70, 29}, {130, 257, 65}, {5, 5, 0}};
  for (const auto& s : shapes)
    for (int t = 0; t < 4; ++t)
      for (T beta : {T(0), T(1)}) {
        const Index M = s[0], N = s[1], K = s[2];
        const bool ta = t & 1, tb = t & 2;
        std::vector<T> A(std::max<Index>(1, M * K)), B(std::max<Index>(1, K * N)), C(M * N), R(M * N);
        for (auto* v : {&A, &B, &C})
          for (auto& x : *v) x = T(u(rng));
        R = C;
        const T alpha = T(0.5);
        for (Index i = 0; i < M; ++i)
          for (Index j = 0; j < N; ++j) {
            double acc = 0;
            for (Index p = 0; p < K; ++p)
              acc += double(ta ? A[p * M + i] : A[i * K + p]) * double(tb ? B[j * K + p] : B[p * N + j]);
            R[i * N + j] = T(alpha * acc + (beta == T(0) ? 0.0 : double(beta) * double(R[i * N + j])));
          }
        gemm<T>(ta, tb, M, N, K, alpha, A.data(), ta ? M : K, B.data(), tb ? K : N, beta, C.data(), N);
        const double tol = sizeof(T) == 4 ? 1e-4 : 1e-12;
        double worst = 0;
        for (Index i = 0; i < M * N; ++i) worst = std::max(worst, std::abs(double(C[i]) - double(R[i])));
        CHECK(worst <= tol * std::max<double>(1, double(K)));
      }
}

void level_is_the_one_asked_for() {
  const char* forced = std::getenv("FASTMLP_ARCH");
  const std::string level = simd_level();
  std::printf("level %s, gemm %s, built:", level.c_str(), gemm_isa());
  for (const auto& l : simd_levels_built()) std::printf(" %s", l.c_str());
  std::printf("\n");
  CHECK(built(level));
  CHECK(cpu_runs_level(level));
  if (forced && *forced) {
    CHECK(level == forced);
  } else {  // not forced: the highest level built that this CPU runs
    for (const char* higher : {"v4", "v3"}) {
      if (higher == level) break;
      CHECK(!(built(higher) && cpu_runs_level(higher)));
    }
  }
  const std::string isa = gemm_isa();
  if (level == "v4") CHECK(isa == "avx512");
  if (level == "v3") CHECK(isa == "avx2");
  if (level == "v2" || level == "generic") CHECK(isa == "eigen");
}

void gemm_float() { gemm_matches_reference<float>(); }
void gemm_double() { gemm_matches_reference<double>(); }

// The mixed bf16 product (gemm_bf16.hpp) at this level: within float32's summation bound of the exact
// product of the rounded operands, the same as the emulated path (bit for bit where it is the path in
// use; to the same bound for the AVX512_BF16 kernel), for every transpose, edge tiles, beta 0 and 1.
void bf16_gemm_matches_reference() {
  CHECK(bf16_round(1.0f + 0x1p-8f) == 1.0f && bf16_round(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);
  CHECK(std::isinf(bf16_round(3.4e38f)) && std::isnan(bf16_round(std::nanf(""))));
  const std::string level = simd_level(), kernel = bf16_kernel();
  std::printf("bf16 kernel %s (cpu avx512_bf16: %d)\n", kernel.c_str(), int(cpu_has_avx512_bf16()));
  if (level == "v4") CHECK(kernel == (cpu_has_avx512_bf16() ? "avx512_bf16" : "emulated (avx512)"));
  if (level == "v3") CHECK(kernel == "emulated (avx2)");
  if (level == "v2" || level == "generic") CHECK(kernel == "emulated (eigen)");
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1, 1);
  const Index shapes[][3] = {{1, 10, 33}, {3, 17, 5}, {8, 48, 64}, {9, 33, 1}, {37, 70, 29}, {130, 257, 65}};
  for (const auto& s : shapes)
    for (int t = 0; t < 4; ++t)
      for (float beta : {0.0f, 1.0f}) {
        const Index M = s[0], N = s[1], K = s[2];
        const bool ta = t & 1, tb = t & 2;
        std::vector<float> A(M * K), B(K * N), C(M * N), E(M * N);
        for (auto* v : {&A, &B, &C})
          for (auto& x : *v) x = u(rng);
        const std::vector<float> C0 = C;
        E = C;
        const float alpha = 0.5f;
        gemm_bf16(ta, tb, M, N, K, alpha, A.data(), ta ? M : K, B.data(), tb ? K : N, beta, C.data(), N);
        gemm_bf16_emulated(ta, tb, M, N, K, alpha, A.data(), ta ? M : K, B.data(), tb ? K : N, beta, E.data(), N);
        const double gamma = double(K + 2) * 0x1p-24 / (1 - double(K + 2) * 0x1p-24);
        bool within = true, same = true;
        for (Index i = 0; i < M; ++i)
          for (Index j = 0; j < N; ++j) {
            double exact = 0, size = 0;  // the product of the rounded operands, and sum |a b|
            for (Index p = 0; p < K; ++p) {
              const double a = bf16_round(ta ? A[p * M + i] : A[i * K + p]);
              const double b = bf16_round(tb ? B[j * K + p] : B[p * N + j]);
              exact += a * b, size += std::abs(a * b);
            }
            const double c0 = beta == 0.0f ? 0.0 : double(C0[i * N + j]);
            const double want = alpha * exact + c0, bound = gamma * (alpha * size + std::abs(c0)) + 1e-30;
            within = within && std::abs(double(C[i * N + j]) - want) <= bound &&
                     std::abs(double(E[i * N + j]) - want) <= bound;
            same = same && C[i * N + j] == E[i * N + j];
          }
        CHECK(within);
        if (kernel.rfind("emulated", 0) == 0) CHECK(same);
      }
}

// A float32 network runs its products mixed when asked (and a float64 one refuses); copies keep it.
void a_network_runs_mixed_bf16() {
  Network<float> net({{4, 8, Activation::Relu}, {8, 3, Activation::Softmax}}, Loss::CategoricalCrossentropy);
  net.init_params(1);
  Matrix<float> X(5, 4);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = float(i % 7) * 0.37f - 1.1f;
  const Matrix<float> plain = net.forward(X);
  CHECK(!net.mixed_bf16());
  net.set_mixed_bf16(true);
  const Matrix<float> mixed = net.forward(X);
  CHECK(net.mixed_bf16() && Network<float>(net).mixed_bf16());
  CHECK((mixed - plain).cwiseAbs().maxCoeff() > 0 && (mixed - plain).cwiseAbs().maxCoeff() < 1e-2f);
  Network<double> wide({{4, 3, Activation::Softmax}}, Loss::CategoricalCrossentropy);
  CHECK_THROWS(wide.set_mixed_bf16(true), std::invalid_argument);
}

void a_network_learns_xor_at_this_level() {
  Network<double> net({{2, 4, Activation::Tanh}, {4, 1, Activation::Sigmoid}}, Loss::BinaryCrossentropy);
  net.init_params(0);
  Matrix<double> X(4, 2), y(4, 1);
  X << 0, 0, 0, 1, 1, 0, 1, 1;
  y << 0, 1, 1, 0;
  SGD<double> sgd(0.5);
  FitOptions opt;
  opt.epochs = 3000;
  const auto result = fit<double>(net, sgd, {X, Targets<double>::from_dense(y.data(), 4, 1), opt});
  CHECK(result.epochs.back().loss < 0.05);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--expect-invalid") {  // FASTMLP_ARCH names no level of this build
    CHECK_THROWS(simd_level(), std::invalid_argument);
    CHECK_THROWS(simd_level(), std::invalid_argument);  // every call, not only the first
    std::vector<float> a(4, 1), c(4);
    CHECK_THROWS(gemm<float>(false, false, 2, 2, 2, 1.f, a.data(), 2, a.data(), 2, 0.f, c.data(), 2),
                 std::invalid_argument);
    std::printf("%d checks, %d failed\n", check::checks, check::failures);
    return check::failures ? 1 : 0;
  }
  if (const char* forced = std::getenv("FASTMLP_ARCH"); forced && *forced) {
    if (!built(forced) || !cpu_runs_level(forced)) {
      std::printf("FASTMLP_ARCH=%s: %s here; skipped\n", forced,
                  built(forced) ? "this CPU does not run it" : "not built");
      return 77;
    }
  }
  RUN(level_is_the_one_asked_for);
  RUN(gemm_float);
  RUN(gemm_double);
  RUN(bf16_gemm_matches_reference);
  RUN(a_network_runs_mixed_bf16);
  RUN(a_network_learns_xor_at_this_level);
  std::printf("%d checks, %d failed\n", check::checks, check::failures);
  return check::failures ? 1 : 0;
}
