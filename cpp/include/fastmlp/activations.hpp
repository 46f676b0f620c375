// Activations a = g(z), applied row-wise to a batch, and their backward passes.
//
// Contract: `activate` turns Z into A in place. `backward` turns dA into dZ in
// place, reading only A (never Z), because every derivative here is cheaper in
// terms of the output:
//   linear   a = z                 g'(z) = 1
//   sigmoid  a = 1 / (1 + e^-z)    g'(z) = a (1 - a)
//   tanh     a = tanh z            g'(z) = 1 - a^2
//   relu     a = max(0, z)         g'(z) = [a > 0]
//   step     a = [z >= 0]          g'(z) = 0  (threshold unit for hand-set nets; not trainable)
//   softmax  a_k = e^{z_k} / sum_j e^{z_j}  (per row, max-subtracted)
//            dz = a * (da - sum_k da_k a_k)   (Jacobian-vector product)
// Softmax + categorical cross-entropy and sigmoid + binary cross-entropy are
// fused in losses.hpp instead; these backward passes serve the other cases.
#pragma once

#include <string>

#include "fastmlp/types.hpp"

namespace fastmlp {

enum class Activation { Linear, Sigmoid, Tanh, Relu, Softmax, Step };

// "linear", "sigmoid", ... ; throws std::invalid_argument for an unknown name.
Activation activation_from_name(const std::string& name);
const char* activation_name(Activation g);

// Z (m x k) -> A = g(Z), in place.
template <class T>
void activate(Activation g, MatrixMap<T> Z);

// Z (m x k) -> A = g(Z + 1 b), in place: bias and activation in one pass over Z.
template <class T>
void add_bias_activate(Activation g, const ConstRowVectorMap<T>& b, MatrixMap<T> Z);

// dA (m x k) -> dZ = dA * g'(Z), in place, from the activations A.
template <class T>
void backward(Activation g, const MatrixMap<T>& A, MatrixMap<T> dA);

}  // namespace fastmlp
