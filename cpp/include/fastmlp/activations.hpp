// Activations a = g(z), applied element-wise (softmax: row-wise) to a batch,
// and their backward passes.
//
// Contract: `activate` turns Z into A in place. `backward` turns dA into dZ in
// place, reading only A (never Z), because every derivative here can be
// written in terms of the output, which is what the forward pass keeps:
//   linear      a = z                          g' = 1
//   sigmoid     a = 1 / (1 + e^-z)             g' = a (1 - a)
//   tanh        a = tanh z                     g' = 1 - a^2
//   relu        a = max(0, z)                  g' = [a > 0]
//   leaky_relu  a = z if z > 0 else alpha z    g' = 1 if a > 0 else alpha       (alpha > 0)
//   elu         a = z if z > 0 else alpha (e^z - 1)   g' = 1 if a > 0 else a + alpha
//   softplus    a = ln(1 + e^z)                g' = sigmoid(z) = 1 - e^-a
//   step        a = [z >= 0]                   g' = 0  (threshold unit for hand-set nets; not trainable)
//   gelu        a = z Phi(z)  (exact, erf form) g' = Phi(z) + z phi(z)
//   silu/swish  a = z sigmoid(z)               g' = s (1 + z (1 - s)),  s = sigmoid(z)
//   mish        a = z tanh(softplus(z))        g' = t + z (1 - t^2) sigmoid(z),  t = tanh(softplus(z))
//   exp         a = e^z                        g' = a   (the log link of the poisson loss)
// gelu, silu and mish are not invertible, so their derivative is taken from Z:
// needs_z(g) says so, and the network keeps Z for those layers (backward_from_z).
//   softmax     a_k = e^{z_k} / sum_j e^{z_j}  (per row, max-subtracted)
//               dz = a * (da - sum_k da_k a_k)  (Jacobian-vector product)
// Softmax + categorical cross-entropy and sigmoid + binary cross-entropy are
// fused in losses.hpp instead; these backward passes serve every other case.
// The enum Activation and each formula as a scalar function, shared with the CUDA kernels:
// elementwise.hpp (the passes below are its vectorised form; tests/cpp/test_elementwise.cpp
// checks that they agree).
#pragma once

#include <string>

#include "fastmlp/ops.hpp"  // enum Activation (elementwise.hpp), needs_z
#include "fastmlp/types.hpp"

namespace fastmlp {

// "linear", "sigmoid", ... ; throws std::invalid_argument for an unknown name.
Activation activation_from_name(const std::string& name);
const char* activation_name(Activation g);
// The default `alpha` of an activation (leaky_relu 0.01, elu 1.0, others unused).
double default_alpha(Activation g);

// Z (m x k) -> A = g(Z), in place.
template <class T>
void activate(Activation g, T alpha, MatrixMap<T> Z);

// Z (m x k) -> A = softmax of each row, in place: a_k = e^{z_k - zmax} / sum_j e^{z_j - zmax}. Where lse
// is given (m entries) it gets each row's log-sum-exp, lse = zmax + ln sum_j e^{z_j - zmax}, which
// softmax + cross-entropy's loss reads (losses.cpp).
template <class T>
void softmax_rows(MatrixMap<T> Z, T* lse);

// Z (m x k) -> A = g(Z + 1 b), in place: one pass over Z for the piecewise-linear activations; the
// others add b first, then activate (activations.cpp says why).
template <class T>
void add_bias_activate(Activation g, T alpha, const ConstRowVectorMap<T>& b, MatrixMap<T> Z);

// dA (m x k) -> dZ = dA * g'(Z), in place, from the activations A.
template <class T>
void backward(Activation g, T alpha, const MatrixMap<T>& A, MatrixMap<T> dA);

// dA (m x k) -> dZ = dA * g'(Z), in place, from the pre-activations Z (needs_z(g) activations).
template <class T>
void backward_from_z(Activation g, const MatrixMap<T>& Z, MatrixMap<T> dA);

}  // namespace fastmlp
