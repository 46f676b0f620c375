// The CPU's vectorised passes against elementwise.hpp, the scalar formulas the CUDA kernels run
// (issue 25: the CPU tests exercise the formulas the GPU runs). For every activation but softmax
// (a = g(z); the backward pass from A, and from Z for gelu, silu, mish) and every loss (A, J and
// delta = dJ/dz), in float and double, on a grid of z: 0, +-1e-30, +-1e-6, ..., +-80, +-88.5 (e^z at
// the end of float), +-1e3 ... +-1e30 (+-1e300 in double), and a sweep of [-30, 30]:
// activate / add_bias_activate / backward / backward_from_z / output_loss must give the header's values.
//
// The two sides run the same operations in the same order; they differ only where Eigen's packet
// exp / log1p / expm1 / tanh (SIMD polynomials; float tanh a rational approximation) replace std::'s,
// by an ulp or two of their result. So the tolerance is kUlps = 8 units of eps * scale (eps: 2^-23 in
// float, 2^-52 in double), where scale is the size of the largest term carrying such a rounding (Tol
// below); the largest difference seen is 5.5 units (huber on a tanh output, float), and a formula changed
// by one rounding (elu's e^z - 1 written expm1(z), gelu's 1/sqrt(2) off by an ulp) fails.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "check.hpp"
#include "fastmlp/elementwise.hpp"
#include "fastmlp/fastmlp.hpp"

using namespace fastmlp;
namespace ew = fastmlp::elementwise;

namespace {

constexpr double kUlps = 8;
constexpr Activation kAll[] = {Activation::Linear,    Activation::Sigmoid, Activation::Tanh,     Activation::Relu,
                               Activation::LeakyRelu, Activation::Elu,     Activation::Softplus, Activation::Step,
                               Activation::Gelu,      Activation::Silu,    Activation::Mish,     Activation::Exp};
static_assert(sizeof(kAll) / sizeof(kAll[0]) == kNumActivations - 1, "every activation but softmax (a row op)");

// The largest difference seen, in units of eps * scale, printed at the end (the margin kept).
double g_worst = 0;
std::string g_worst_at;

// How far the CPU's value may be from the header's: kUlps * eps * scale, where scale is the size of
// the largest term that carries a rounding of e^x, log1p, expm1 or tanh, plus floor times the
// smallest normal number (Eigen's float exp returns 2.9e-39 for every x below -88.7 where std::exp
// gives a subnormal or 0; floor is what multiplies that e^x in the formula, |z| in mish's z tanh(..)).
template <class T>
struct Tol {
  T scale;
  T floor = T(1);
};

template <class T>
bool close(T x, T ref, Tol<T> tol, const std::string& what, T z) {
  if (x == ref || (std::isnan(x) && std::isnan(ref))) return true;
  const double eps = std::numeric_limits<T>::epsilon(), tiny = std::numeric_limits<T>::min();
  const double off = std::abs(double(x) - double(ref)) - tiny * std::max(1.0, std::abs(double(tol.floor)));
  const double units = std::max(0.0, off) / (eps * std::max(std::abs(double(tol.scale)), tiny));
  const std::string at = what + (sizeof(T) == 4 ? " (float)" : " (double)") + " z=" + std::to_string(double(z));
  if (units > g_worst) g_worst = units, g_worst_at = at;
  if (std::isfinite(double(x)) && std::isfinite(double(ref)) && units <= kUlps) return true;
  std::fprintf(stderr, "  %s: cpu %.17g, elementwise.hpp %.17g (%.1f units of eps * %.3g)\n", at.c_str(), double(x),
               double(ref), units, double(tol.scale));
  return false;
}

// 0, +-1e-6 ... +-80, the float overflow of e^z (88.7), large magnitudes, and a sweep of [-30, 30].
template <class T>
std::vector<T> z_grid() {
  std::vector<double> v = {1e-30, 1e-6, 1e-3, 0.01, 0.1, 0.25, 0.5, 0.9, 1,   1.1, 1.5, 2,   3,
                           5,     7,    8,    9,    10,  15,   16,  17,  20,  25,  30,  35,  40,
                           50,    60,   70,   80,   87,  88.5, 89,  100, 500, 710, 1e3, 1e6, 1e10};
  v.push_back(sizeof(T) == 4 ? 1e30 : 1e300);
  for (double x = 0.0137; x < 30; x += 0.173) v.push_back(x);
  std::vector<T> z = {T(0)};
  for (double x : v) {
    z.push_back(T(x));
    z.push_back(T(-x));
  }
  return z;
}

// a little bias per column, for add_bias_activate; columns: a prime, so Eigen's packets and its
// scalar tail both meet every z.
constexpr Index kCols = 7;
template <class T>
T bias(Index j) {
  return j == 0 ? T(0) : T(0.03125) * T(j - 3);
}

// The tolerance of a = g(z): elu's alpha (e^z - 1) cancels near z = 0, where e^z ~ 1 carries the
// rounding; mish's z tanh(softplus z) multiplies Eigen's floor of e^z by z.
template <class T>
Tol<T> g_tol(Activation g, T z, T alpha, T ref) {
  Tol<T> tol{std::abs(ref)};
  if (g == Activation::Elu && z <= T(0)) tol.scale = std::max(tol.scale, alpha);
  if (g == Activation::Mish) tol.floor = std::abs(z);
  return tol;
}
// The tolerance of g'(z) from z (gelu, silu, mish) times da: the roundings of e^-z are multiplied
// by z (silu: s (1 + z (1 - s))), and so is Eigen's floor of e^z (mish).
template <class T>
Tol<T> g_prime_z_tol(T z, T da, T ref) {
  const T f = std::abs(da) * std::max(T(1), std::abs(z));
  return {std::max(std::abs(ref), f), f};
}

template <class T>
void activations_forward_and_backward() {
  const std::vector<T> zs = z_grid<T>();
  const Index m = Index(zs.size());
  for (Activation g : kAll) {
    for (T alpha : {T(default_alpha(g)), T(0.3)}) {
      // Z: row i holds z_i in every column; Zb: z_i - b_j, to which add_bias_activate adds b_j.
      Matrix<T> A(m, kCols), Ab(m, kCols);
      RowVector<T> b(kCols);
      for (Index j = 0; j < kCols; ++j) b(j) = bias<T>(j);
      for (Index i = 0; i < m; ++i)
        for (Index j = 0; j < kCols; ++j) {
          A(i, j) = zs[std::size_t(i)];
          Ab(i, j) = zs[std::size_t(i)] - b(j);
        }
      const Matrix<T> Z = A, Zb = Ab;
      activate<T>(g, alpha, MatrixMap<T>(A.data(), m, kCols));
      add_bias_activate<T>(g, alpha, ConstRowVectorMap<T>(b.data(), kCols), MatrixMap<T>(Ab.data(), m, kCols));
      // backward: dA = 1.5 (-0.75 in odd columns) times g'(z), from A (the CPU's, on both sides) or
      // from Z; for relu and step, column 3 holds inf, which they gate to 0 where the unit is off.
      const bool gates = g == Activation::Relu || g == Activation::Step;
      Matrix<T> dA(m, kCols);
      for (Index i = 0; i < m; ++i)
        for (Index j = 0; j < kCols; ++j)
          dA(i, j) = j == 3 && gates ? std::numeric_limits<T>::infinity() : j % 2 ? T(-0.75) : T(1.5);
      const Matrix<T> dA0 = dA;
      MatrixMap<T> dmap(dA.data(), m, kCols);
      if (needs_z(g))
        backward_from_z<T>(g, MatrixMap<T>(const_cast<T*>(Z.data()), m, kCols), dmap);
      else
        backward<T>(g, alpha, MatrixMap<T>(A.data(), m, kCols), dmap);

      const std::string name = activation_name(g);
      bool ok = true;
      for (Index i = 0; i < m; ++i)
        for (Index j = 0; j < kCols; ++j) {
          const T z = Z(i, j), ref = ew::g(g, z, alpha);
          ok = close<T>(A(i, j), ref, g_tol(g, z, alpha, ref), name, z) && ok;
          const T zb = Zb(i, j) + b(j), refb = ew::g(g, zb, alpha);  // the same sum in T as the CPU's
          ok = close<T>(Ab(i, j), refb, g_tol(g, zb, alpha, refb), name + " add_bias_activate", zb) && ok;
          const T da = dA0(i, j);
          if (needs_z(g)) {
            const T dref = da * ew::g_prime_from_z(g, z);
            ok = close<T>(dA(i, j), dref, g_prime_z_tol(z, da, dref), name + " backward_from_z", z) && ok;
          } else {
            const T dref = ew::dz_from_a(g, A(i, j), da, alpha);
            ok = close<T>(dA(i, j), dref, {std::abs(dref)}, name + " backward", z) && ok;
          }
        }
      CHECK(ok);
    }
  }
}

// One loss on 1 x 16 copies of (z, y), so that J, A and delta go through Eigen's packets: J must be
// the mean of 16 entries l (computed as (16 l) / 16 in T: its sum overflows where the CPU's does).
template <class T>
bool loss_case(Loss loss, Activation out, T alpha, T z, T y) {
  constexpr Index k = 16;
  Matrix<T> Z = Matrix<T>::Constant(1, k, z), Y = Matrix<T>::Constant(1, k, y), delta(1, k);
  MatrixMap<T> dmap(delta.data(), 1, k);
  const T J =
      output_loss<T>(loss, out, alpha, MatrixMap<T>(Z.data(), 1, k), Targets<T>::from_dense(Y.data(), 1, k), &dmap);
  const T s = T(1) / T(k);  // the mean's factor 1/(m k), m = 1
  T l, p, d;
  Tol<T> l_tol, p_tol, d_tol;
  if (loss == Loss::BinaryCrossentropy || loss == Loss::Poisson) {  // from the logits
    const bool bce = loss == Loss::BinaryCrossentropy;
    l = bce ? ew::bce_from_logit(z, y) : ew::poisson_from_logit(z, y);
    p = bce ? ew::stable_sigmoid(z) : std::exp(z);
    d = (p - y) * s;
    // l's terms: max(z, 0), z y, ln(1 + e^-|z|) <= ln 2 (bce); e^z, y z, y ln y, y (poisson)
    l_tol.scale = std::max({std::abs(l), std::abs(z), T(1)});
    if (!bce) l_tol.scale = std::max({l_tol.scale, p, std::abs(y * z), y * std::log(std::max(y, T(1)))});
    p_tol.scale = p;
    d_tol.scale = std::max(p, y) * s;
  } else {  // on a = g(z), r = a - y
    p = ew::g(out, z, alpha);
    const T r = p - y;
    l = ew::regression_l(loss, r);
    const T dr = ew::regression_dl_dr(loss, r) * s;
    d = needs_z(out) ? dr * ew::g_prime_from_z(out, z) : ew::dz_from_a(out, p, dr, alpha);
    // a carries g's tolerance (p_tol); r = a - y adds |r|. l = r^2 doubles it by |r|; mae and huber
    // pass it on. delta = l'(r) g': l' = 2 r carries 2 ea, and g'(a) moves by |dg'/da| ea <= max(1, 2|a|) ea
    // (sigmoid, tanh, elu, softplus, exp); g'(z) carries its own tolerance (g_prime_z_tol).
    p_tol = g_tol(out, z, alpha, p);
    const T ea = std::max(p_tol.scale, std::abs(r));
    const bool mse = loss == Loss::MeanSquaredError;
    // (a's floor F: r^2 moves by 2 |r| F tiny + (F tiny)^2)
    const T F = std::max(T(1), p_tol.floor), tiny = std::numeric_limits<T>::min();
    // The CPU's r may sit anywhere within u = kUlps eps ea of the header's: where r is near 0 that is
    // second order for r^2 (u^2 = kUlps eps (kUlps eps ea^2)), l''(r) u for the slopes of mse (2) and
    // huber (1), and mae's slope sign(r) is either side of its step when |r| <= u (its whole 2 |g'| s).
    // (Seen on aarch64: mish(1000) a few ulps below 1000 = y, where GCC fuses multiply-adds.)
    const T u = T(kUlps) * std::numeric_limits<T>::epsilon() * ea;
    const T l2 = mse ? T(2) : (loss == Loss::Huber && std::abs(r) < T(1) ? T(1) : T(0));
    l_tol = {std::max(std::abs(l), mse ? T(2) * std::abs(r) * ea + u * ea : ea),
             mse ? F * (T(2) * std::abs(r) + F * tiny) : F};
    const T gp = needs_z(out) ? ew::g_prime_from_z(out, z) : ew::g_prime_from_a(out, p, alpha);
    d_tol.scale = std::max(std::abs(d), l2 * s * std::abs(gp) * ea);
    if (loss == Loss::MeanAbsoluteError && std::abs(r) <= u)
      d_tol.scale = std::max(d_tol.scale, T(2) * s * std::abs(gp) / (T(kUlps) * std::numeric_limits<T>::epsilon()));
    if (needs_z(out)) {
      const Tol<T> gz = g_prime_z_tol(z, dr, d);
      d_tol = {std::max(d_tol.scale, gz.scale), gz.floor};
    } else {
      d_tol.scale = std::max(d_tol.scale, std::abs(dr) * std::max(T(1), T(2) * std::abs(p)) * ea);
    }
  }
  const std::string name = std::string(loss_name(loss)) + "/" + activation_name(out) + " y=" + std::to_string(y);
  bool ok = close<T>(J, (l * T(k)) * s, l_tol, name + " J", z);
  ok = close<T>(Z(0, k - 1), p, p_tol, name + " A", z) && ok;
  ok = close<T>(delta(0, k - 1), d, d_tol, name + " delta", z) && ok;
  for (Index j = 0; j < k; ++j) ok = ok && Z(0, j) == Z(0, 0) && delta(0, j) == delta(0, 0);
  return ok;
}

template <class T>
void losses_every_entry() {
  for (T z : z_grid<T>()) {
    for (T y : {T(0), T(0.3), T(1)}) CHECK(loss_case<T>(Loss::BinaryCrossentropy, Activation::Sigmoid, T(0), z, y));
    for (T y : {T(0), T(0.5), T(3), T(100)}) CHECK(loss_case<T>(Loss::Poisson, Activation::Exp, T(0), z, y));
    for (Loss loss : {Loss::MeanSquaredError, Loss::MeanAbsoluteError, Loss::Huber})
      for (Activation g : kAll)
        for (T y : {T(-2), T(0), T(0.7), T(1e3)}) CHECK(loss_case<T>(loss, g, T(default_alpha(g)), z, y));
  }
}

void activations_float() { activations_forward_and_backward<float>(); }
void activations_double() { activations_forward_and_backward<double>(); }
void losses_float() { losses_every_entry<float>(); }
void losses_double() { losses_every_entry<double>(); }

}  // namespace

int main() {
  RUN(activations_float);
  RUN(activations_double);
  RUN(losses_float);
  RUN(losses_double);
  std::printf("largest difference: %.2f units (of %.0f allowed), at %s\n", g_worst, kUlps, g_worst_at.c_str());
  std::printf("%d checks, %d failed\n", check::checks, check::failures);
  return check::failures == 0 ? 0 : 1;
}
