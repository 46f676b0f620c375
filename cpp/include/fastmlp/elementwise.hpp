// The element-wise formulas, written once for both engines: each is a scalar function that is
// __host__ __device__ under nvcc (FASTMLP_HD), so the CUDA kernels (cpp/cuda/kernels.cu) call these
// very functions, and tests/cpp/test_elementwise.cpp checks the CPU's vectorised Eigen passes
// (activations.cpp, losses.cpp) against them, value by value. Plain C++17: no Eigen, no CUDA header.
//
// Names as in the lecture: z the pre-activation, a = g(z) the activation, g' its derivative,
// r = a - y the residual of a regression loss, l an entry of a loss, delta = dJ/dz.
// The formulas themselves are tabulated in activations.hpp and losses.hpp.
//
// Row operations are not here: softmax (a_k = e^{z_k} / sum_j e^{z_j}, max-subtracted, and its
// Jacobian-vector product dz = a * (da - sum_k da_k a_k)) and softmax + categorical cross-entropy
// (log-sum-exp) read a whole row; each engine writes its own row loop (a warp per row on CUDA).
#pragma once

#include <cmath>

#ifdef __CUDACC__
#define FASTMLP_HD __host__ __device__ __forceinline__
#else
#define FASTMLP_HD
#endif

namespace fastmlp {

// int(g) is the code the CUDA kernels take (and backend.hpp repeats): append, never reorder.
enum class Activation { Linear, Sigmoid, Tanh, Relu, LeakyRelu, Elu, Softplus, Softmax, Step, Gelu, Silu, Mish, Exp };
constexpr int kNumActivations = int(Activation::Exp) + 1;

enum class Loss { BinaryCrossentropy, CategoricalCrossentropy, MeanSquaredError, MeanAbsoluteError, Huber, Poisson };
constexpr int kNumLosses = int(Loss::Poisson) + 1;

namespace elementwise {

// 1/sqrt(2) and 1/sqrt(2 pi): gelu's Phi(z) = (1 + erf(z / sqrt 2)) / 2 and phi(z) = e^{-z^2/2} / sqrt(2 pi).
constexpr double kSqrtHalf = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

// max, min, |.| without <algorithm> (not device code). max_of(NaN, b) is b, as the kernels always had it.
template <class T>
FASTMLP_HD T max_of(T a, T b) {
  return a > b ? a : b;
}
template <class T>
FASTMLP_HD T min_of(T a, T b) {
  return a < b ? a : b;
}
template <class T>
FASTMLP_HD T abs_of(T a) {
  return a < T(0) ? -a : a;
}

// std:: picks the float overloads for float (expf, ...), on the host and, through CUDA's math
// headers, on the device.
template <class T>
FASTMLP_HD T sigmoid(T z) {
  return T(1) / (T(1) + std::exp(-z));  // e^-z = inf -> 0, as it should
}
// The same value with no e^|z| ever formed: the link of the binary cross-entropy.
template <class T>
FASTMLP_HD T stable_sigmoid(T z) {
  return z >= T(0) ? T(1) / (T(1) + std::exp(-z)) : std::exp(z) / (T(1) + std::exp(z));
}
// ln(1 + e^z) = max(z, 0) + ln(1 + e^-|z|): never overflows.
template <class T>
FASTMLP_HD T softplus(T z) {
  return max_of(z, T(0)) + std::log1p(std::exp(-abs_of(z)));
}

// ---- activations: a = g(z) ----
// Softmax is a row operation (above): here it is the identity, the engines apply it per row.
template <class T>
FASTMLP_HD T g(Activation act, T z, T alpha) {
  switch (act) {
    case Activation::Linear: return z;
    case Activation::Sigmoid: return sigmoid(z);
    case Activation::Tanh: return std::tanh(z);
    case Activation::Relu: return max_of(z, T(0));
    case Activation::LeakyRelu: return z > T(0) ? z : alpha * z;
    case Activation::Elu: return z > T(0) ? z : alpha * (std::exp(min_of(z, T(0))) - T(1));
    case Activation::Softplus: return softplus(z);
    case Activation::Softmax: return z;
    case Activation::Step: return z >= T(0) ? T(1) : T(0);
    case Activation::Gelu: return T(0.5) * z * (T(1) + std::erf(z * T(kSqrtHalf)));
    case Activation::Silu: return z / (T(1) + std::exp(-z));
    case Activation::Mish: return z * std::tanh(softplus(z));
    case Activation::Exp: return std::exp(z);
  }
  return z;
}

// ---- g'(z) from a = g(z): what the forward pass keeps ----
// Not defined for softmax (its Jacobian is a row operation) nor for gelu, silu and mish, which are
// not invertible (g_prime_from_z): 1 there.
template <class T>
FASTMLP_HD T g_prime_from_a(Activation act, T a, T alpha) {
  switch (act) {
    case Activation::Sigmoid: return a * (T(1) - a);
    case Activation::Tanh: return T(1) - a * a;
    case Activation::Relu: return a > T(0) ? T(1) : T(0);
    case Activation::LeakyRelu: return a > T(0) ? T(1) : alpha;
    case Activation::Elu: return a > T(0) ? T(1) : a + alpha;
    case Activation::Softplus: return -std::expm1(-a);  // sigmoid(z) = 1 - e^-a, precise for tiny a
    case Activation::Step: return T(0);
    case Activation::Exp: return a;
    default: return T(1);
  }
}

// One entry of the backward pass from A: dz = da g'(z). Relu and step gate instead of multiplying,
// so an infinite or NaN da where the unit is off gives dz = 0 (inf * 0 would be NaN).
template <class T>
FASTMLP_HD T dz_from_a(Activation act, T a, T da, T alpha) {
  if (act == Activation::Step) return T(0);
  if (act == Activation::Relu) return a > T(0) ? da : T(0);
  return da * g_prime_from_a(act, a, alpha);
}

// ---- g'(z) from z: gelu, silu, mish (activations.hpp needs_z); 1 for the others ----
template <class T>
FASTMLP_HD T g_prime_from_z(Activation act, T z) {
  switch (act) {
    case Activation::Gelu:  // Phi(z) + z phi(z)
      return T(0.5) * (T(1) + std::erf(z * T(kSqrtHalf))) + z * std::exp(T(-0.5) * (z * z)) * T(kInvSqrt2Pi);
    case Activation::Silu: {  // s (1 + z (1 - s)), s = sigmoid(z)
      const T s = sigmoid(z);
      return s * (T(1) + z * (T(1) - s));
    }
    case Activation::Mish: {  // t + z (1 - t^2) sigmoid(z), t = tanh(softplus(z))
      const T t = std::tanh(softplus(z));
      return t + z * (T(1) - t * t) / (T(1) + std::exp(-z));
    }
    default: return T(1);
  }
}

// ---- losses from the logits z, with their link p = link(z); delta = (p - y) / (m k) ----
// binary cross-entropy on p = sigmoid(z): -(y ln p + (1-y) ln(1-p)) = max(z,0) - z y + ln(1 + e^-|z|)
template <class T>
FASTMLP_HD T bce_from_logit(T z, T y) {
  return max_of(z, T(0)) - z * y + std::log1p(std::exp(-abs_of(z)));
}
// poisson on p = e^z (ln p = z): p - y ln p + y ln y - y, with 0 ln 0 = 0
template <class T>
FASTMLP_HD T poisson_from_logit(T z, T y) {
  return std::exp(z) - y * z + (y > T(0) ? y * std::log(y) : T(0)) - y;
}

// ---- regression losses on r = a - y: the entry l(r) and dl/dr ----
// mse r^2 (2 r); mae |r| (sign r, sign 0 = 0 as torch); huber with delta 1:
// r^2 / 2 if |r| <= 1 else |r| - 1/2 (clip(r, -1, 1)). Other losses: mse's.
template <class T>
FASTMLP_HD T regression_l(Loss loss, T r) {
  const T ar = abs_of(r);
  if (loss == Loss::MeanAbsoluteError) return ar;
  if (loss == Loss::Huber) return ar <= T(1) ? T(0.5) * (r * r) : ar - T(0.5);
  return r * r;
}
template <class T>
FASTMLP_HD T regression_dl_dr(Loss loss, T r) {
  if (loss == Loss::MeanAbsoluteError) return r > T(0) ? T(1) : (r < T(0) ? T(-1) : T(0));
  if (loss == Loss::Huber) return max_of(T(-1), min_of(T(1), r));
  return T(2) * r;
}

}  // namespace elementwise
}  // namespace fastmlp
