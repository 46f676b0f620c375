#include "fastmlp/activations.hpp"
#include "fastmlp/names.hpp"
#include "fastmlp/threads.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fastmlp {

namespace {
constexpr Named<Activation> kActivations[] = {{Activation::Linear, "linear"},
                                              {Activation::Linear, "identity"},
                                              {Activation::Sigmoid, "sigmoid"},
                                              {Activation::Sigmoid, "logistic"},
                                              {Activation::Tanh, "tanh"},
                                              {Activation::Relu, "relu"},
                                              {Activation::LeakyRelu, "leaky_relu"},
                                              {Activation::Elu, "elu"},
                                              {Activation::Softplus, "softplus"},
                                              {Activation::Softmax, "softmax"},
                                              {Activation::Step, "step"},
                                              {Activation::Gelu, "gelu"},
                                              {Activation::Silu, "silu"},
                                              {Activation::Silu, "swish"},
                                              {Activation::Mish, "mish"},
                                              {Activation::Exp, "exp"}};
}  // namespace

Activation activation_from_name(const std::string& name) { return from_name(kActivations, name, "activation"); }
const char* activation_name(Activation g) { return name_of(kActivations, g); }

double default_alpha(Activation g) {
  if (g == Activation::LeakyRelu) return 0.01;
  if (g == Activation::Elu) return 1.0;
  return 0.0;
}

namespace {
// e^x in place over n contiguous values, each through Eigen's vectorised exp (the last n % 16 in a padded
// block): a value's result does not depend on where it lies, so a row gives the same bits alone as in a
// batch (Eigen's exp of a dynamic-size array takes its ends one scalar at a time, through another exp).
template <class T>
void exp_in_place(T* x, Index n) {
  using Block = Eigen::Array<T, 16, 1>;
  Index i = 0;
  for (; i + 16 <= n; i += 16) Eigen::Map<Block>(x + i) = Eigen::Map<Block>(x + i).exp();
  if (i == n) return;
  Block b = Block::Zero();
  std::copy(x + i, x + n, b.data());
  b = b.exp();
  std::copy(b.data(), b.data() + (n - i), x + i);
}
}  // namespace

// Passes over the whole block, not Eigen's calls row by row: a row of the bench net's 10 outputs is shorter
// than a dynamic-size call's set-up and than the SIMD width, the m x k block is not. Subtracting the row
// max keeps e^z <= 1. No allocation (the C API predicts without any): lse holds the row maxima until the
// sums' logarithms, taken 16 rows at a time, are added.
template <class T>
void softmax_rows(MatrixMap<T> Z, T* lse) {
  const Index m = Z.rows(), k = Z.cols();
  if (m == 0 || k == 0) return;
  T* z = Z.data();
  for (Index i = 0; i < m; ++i) {
    T* r = z + i * k;
    T mx = r[0];
    for (Index j = 1; j < k; ++j) mx = r[j] > mx ? r[j] : mx;
    for (Index j = 0; j < k; ++j) r[j] -= mx;
    if (lse) lse[i] = mx;
  }
  exp_in_place(z, m * k);  // e^(z - zmax)
  for (Index i0 = 0; i0 < m; i0 += 16) {
    Eigen::Array<T, 16, 1> sum = Eigen::Array<T, 16, 1>::Ones();  // rows past m: ln 1, unused
    const Index n = std::min<Index>(16, m - i0);
    for (Index i = 0; i < n; ++i) {
      T* r = z + (i0 + i) * k;
      T s = 0;
      for (Index j = 0; j < k; ++j) s += r[j];
      for (Index j = 0; j < k; ++j) r[j] /= s;
      sum[i] = s;
    }
    if (!lse) continue;
    sum = sum.log();
    for (Index i = 0; i < n; ++i) lse[i0 + i] += sum[i];
  }
}

namespace {

// out = g(zin) element-wise; zin may be Z itself or Z + 1 b (evaluated lazily,
// so bias and activation cost one pass).
template <class T, class ZExpr>
void activate_elementwise(Activation g, T alpha, const ZExpr& zin, MatrixMap<T>& out) {
  auto a = out.array();
  switch (g) {
    case Activation::Linear: a = zin; return;
    case Activation::Sigmoid: a = T(1) / (T(1) + (-zin).exp()); return;  // e^-z = inf -> 0, as it should
    case Activation::Tanh: a = zin.tanh(); return;
    case Activation::Relu: a = zin.max(T(0)); return;
    case Activation::LeakyRelu: a = (zin > T(0)).select(zin, alpha * zin); return;
    case Activation::Elu: a = (zin > T(0)).select(zin, alpha * (zin.min(T(0)).exp() - T(1))); return;
    case Activation::Softplus: a = zin.max(T(0)) + (-zin.abs()).exp().log1p(); return;  // no overflow
    case Activation::Step: a = (zin >= T(0)).template cast<T>(); return;
    case Activation::Softmax:
      a = zin;
      softmax_rows<T>(out, nullptr);
      return;
    case Activation::Gelu:
      a = zin;
      a = T(0.5) * a * (T(1) + (a * T(elementwise::kSqrtHalf)).unaryExpr([](T v) { return T(std::erf(v)); }));
      return;
    case Activation::Silu:
      a = zin;
      a = a / (T(1) + (-a).exp());
      return;
    case Activation::Mish:
      a = zin;
      a = a * (a.max(T(0)) + (-a.abs()).exp().log1p()).tanh();
      return;
    case Activation::Exp: a = zin.exp(); return;
  }
}

// dA[i] = dz(a[i], dA[i]), elementwise.hpp's dz for a constant g (its switch folds away), as a plain
// loop: for relu the compiler turns it into vector blends, where Eigen 3.4's select() branches per
// element and, the sign of a being a coin flip in a network, mispredicts half the time (2048 x 256
// relu': 2.6 ms with select, 0.1 ms with this loop). (GCC 12 keeps a branch for leaky_relu and elu,
// whose a <= 0 side multiplies: 2.8 ms.)
template <class T, class Dz>
void each_dz(const MatrixMap<T>& A, MatrixMap<T> dA, Dz dz) {
  const T* a = A.data();
  T* d = dA.data();
  for (Index i = 0; i < A.size(); ++i) d[i] = dz(a[i], d[i]);
}

// f(rows i0..i1 of each matrix) over row blocks, split across threads for big matrices (threads.hpp).
template <class T, class F, class... Ms>
void by_rows(F f, const MatrixMap<T>& first, const Ms&... rest) {
  parallel_elementwise(first.rows(), first.size(), 1, [&](Index i0, Index i1) {
    // (the maps handed in read-only view buffers of the network; const_cast only re-slices them)
    const auto rows = [&](const MatrixMap<T>& M) {
      return MatrixMap<T>(const_cast<T*>(M.data()) + i0 * M.cols(), i1 - i0, M.cols());
    };
    f(rows(first), rows(rest)...);
  });
}

}  // namespace

template <class T>
void activate(Activation g, T alpha, MatrixMap<T> Z) {
  if (g == Activation::Linear) return;
  by_rows<T>([&](MatrixMap<T> Zr) { activate_elementwise<T>(g, alpha, Zr.array(), Zr); }, Z);
}

// The piecewise-linear activations take z + 1 b lazily (one pass). The others add the bias first: through
// the lazy broadcast Eigen evaluates tanh, exp, ... one scalar at a time (std::tanh), over a stored z in
// vectors (float tanh on 4096 x 256, baseline build, one core: 8.9 ns per element fused, 2.0 in two passes).
template <class T>
void add_bias_activate(Activation g, T alpha, const ConstRowVectorMap<T>& b, MatrixMap<T> Z) {
  const bool piecewise_linear =
      g == Activation::Linear || g == Activation::Relu || g == Activation::LeakyRelu || g == Activation::Step;
  by_rows<T>(
      [&](MatrixMap<T> Zr) {
        if (piecewise_linear) return activate_elementwise<T>(g, alpha, Zr.array().rowwise() + b.array(), Zr);
        Zr.array().rowwise() += b.array();
        activate_elementwise<T>(g, alpha, Zr.array(), Zr);
      },
      Z);
}

namespace {

using elementwise::dz_from_a;

template <class T>
void backward_rows(Activation g, T alpha, const MatrixMap<T>& A, MatrixMap<T> dA) {
  auto a = A.array();
  auto d = dA.array();
  switch (g) {
    case Activation::Linear: return;
    case Activation::Sigmoid: d *= a * (T(1) - a); return;
    case Activation::Tanh: d *= T(1) - a.square(); return;
    case Activation::Relu:
      each_dz<T>(A, dA, [](T ai, T di) { return dz_from_a(Activation::Relu, ai, di, T(0)); });
      return;
    case Activation::LeakyRelu:
      each_dz<T>(A, dA, [alpha](T ai, T di) { return dz_from_a(Activation::LeakyRelu, ai, di, alpha); });
      return;
    case Activation::Elu:
      each_dz<T>(A, dA, [alpha](T ai, T di) { return dz_from_a(Activation::Elu, ai, di, alpha); });
      return;
    case Activation::Softplus: d *= -(-a).expm1(); return;  // 1 - e^-a, precise for tiny a
    case Activation::Step: d.setZero(); return;
    case Activation::Exp: d *= a; return;
    case Activation::Softmax:
      for (Index i = 0; i < dA.rows(); ++i) {
        const T s = dA.row(i).dot(A.row(i));
        dA.row(i).array() = A.row(i).array() * (dA.row(i).array() - s);
      }
      return;
    case Activation::Gelu:
    case Activation::Silu:
    case Activation::Mish: throw std::logic_error("backward: gelu, silu and mish need Z (backward_from_z)");
  }
}

template <class T>
void backward_from_z_rows(Activation g, const MatrixMap<T>& Z, MatrixMap<T> dA) {
  auto z = Z.array();
  auto d = dA.array();
  switch (g) {
    case Activation::Gelu:  // Phi(z) + z phi(z)
      d *= T(0.5) * (T(1) + (z * T(elementwise::kSqrtHalf)).unaryExpr([](T v) { return T(std::erf(v)); })) +
           z * (T(-0.5) * z.square()).exp() * T(elementwise::kInvSqrt2Pi);
      return;
    case Activation::Silu: {
      const auto s = T(1) / (T(1) + (-z).exp());
      d *= s * (T(1) + z * (T(1) - s));
      return;
    }
    case Activation::Mish: {
      const auto t = (z.max(T(0)) + (-z.abs()).exp().log1p()).tanh();
      d *= t + z * (T(1) - t.square()) / (T(1) + (-z).exp());
      return;
    }
    default: throw std::logic_error("backward_from_z: only gelu, silu and mish");
  }
}

}  // namespace

template <class T>
void backward(Activation g, T alpha, const MatrixMap<T>& A, MatrixMap<T> dA) {
  by_rows<T>([&](MatrixMap<T> dAr, MatrixMap<T> Ar) { backward_rows<T>(g, alpha, Ar, dAr); }, dA, A);
}

template <class T>
void backward_from_z(Activation g, const MatrixMap<T>& Z, MatrixMap<T> dA) {
  by_rows<T>([&](MatrixMap<T> dAr, MatrixMap<T> Zr) { backward_from_z_rows<T>(g, Zr, dAr); }, dA, Z);
}

#define FASTMLP_INSTANTIATE(T)                                                                  \
  template void activate<T>(Activation, T, MatrixMap<T>);                                       \
  template void add_bias_activate<T>(Activation, T, const ConstRowVectorMap<T>&, MatrixMap<T>); \
  template void backward<T>(Activation, T, const MatrixMap<T>&, MatrixMap<T>);                  \
  template void backward_from_z<T>(Activation, const MatrixMap<T>&, MatrixMap<T>);              \
  template void softmax_rows<T>(MatrixMap<T>, T*);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

}  // namespace fastmlp
