#include "fastmlp/activations.hpp"

#include <cmath>
#include <stdexcept>

namespace fastmlp {

Activation activation_from_name(const std::string& name) {
  if (name == "linear" || name == "identity") return Activation::Linear;
  if (name == "sigmoid" || name == "logistic") return Activation::Sigmoid;
  if (name == "tanh") return Activation::Tanh;
  if (name == "relu") return Activation::Relu;
  if (name == "softmax") return Activation::Softmax;
  if (name == "step") return Activation::Step;
  throw std::invalid_argument("unknown activation '" + name +
                              "' (expected one of: linear, sigmoid, tanh, relu, softmax, step)");
}

const char* activation_name(Activation g) {
  switch (g) {
    case Activation::Linear: return "linear";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Tanh: return "tanh";
    case Activation::Relu: return "relu";
    case Activation::Softmax: return "softmax";
    case Activation::Step: return "step";
  }
  return "?";
}

template <class T>
void softmax_rows(MatrixMap<T> Z) {
  // Subtracting the row max keeps e^z <= 1, so nothing overflows.
  for (Index i = 0; i < Z.rows(); ++i) {
    auto z = Z.row(i);
    const T zmax = z.maxCoeff();
    z = (z.array() - zmax).exp();
    z /= z.sum();
  }
}

// out = g(zin) element-wise; zin may be Z itself or Z + 1 b (evaluated lazily,
// so bias and activation cost one pass). Softmax is handled by the caller.
template <class T, class ZExpr>
void activate_elementwise(Activation g, const ZExpr& zin, MatrixMap<T>& out) {
  auto a = out.array();
  switch (g) {
    case Activation::Linear: a = zin; return;
    case Activation::Sigmoid: a = T(1) / (T(1) + (-zin).exp()); return;  // e^-z = inf -> 0, as it should
    case Activation::Tanh: a = zin.tanh(); return;
    case Activation::Relu: a = zin.max(T(0)); return;
    case Activation::Step: a = (zin >= T(0)).template cast<T>(); return;
    case Activation::Softmax: a = zin; softmax_rows<T>(out); return;
  }
}

template <class T>
void activate(Activation g, MatrixMap<T> Z) {
  if (g == Activation::Linear) return;
  activate_elementwise<T>(g, Z.array(), Z);
}

template <class T>
void add_bias_activate(Activation g, const ConstRowVectorMap<T>& b, MatrixMap<T> Z) {
  activate_elementwise<T>(g, Z.array().rowwise() + b.array(), Z);
}

template <class T>
void backward(Activation g, const MatrixMap<T>& A, MatrixMap<T> dA) {
  auto a = A.array();
  auto d = dA.array();
  switch (g) {
    case Activation::Linear: return;
    case Activation::Sigmoid: d *= a * (T(1) - a); return;
    case Activation::Tanh: d *= T(1) - a.square(); return;
    case Activation::Relu: d = (a > T(0)).select(d, T(0)); return;
    case Activation::Step: d.setZero(); return;
    case Activation::Softmax:
      for (Index i = 0; i < dA.rows(); ++i) {
        const T s = dA.row(i).dot(A.row(i));
        dA.row(i).array() = A.row(i).array() * (dA.row(i).array() - s);
      }
      return;
  }
}

template void activate<float>(Activation, MatrixMap<float>);
template void activate<double>(Activation, MatrixMap<double>);
template void add_bias_activate<float>(Activation, const ConstRowVectorMap<float>&, MatrixMap<float>);
template void add_bias_activate<double>(Activation, const ConstRowVectorMap<double>&, MatrixMap<double>);
template void backward<float>(Activation, const MatrixMap<float>&, MatrixMap<float>);
template void backward<double>(Activation, const MatrixMap<double>&, MatrixMap<double>);

}  // namespace fastmlp
