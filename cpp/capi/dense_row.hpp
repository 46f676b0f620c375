// One row through a chain of Dense layers: the C API's one-sample path (inference.cpp).
//
// A workspace's LayerStack pass runs every layer through the engine's operations (ops.hpp): the GEMM,
// made for batches, with its shape dispatch and its thread split, then a bias-and-activation pass; for
// one row of a small net those fixed costs are most of the call (8-32-32-2 tanh: 0.72 us, of which
// 0.36 us was the baseline build's scalar tanh). Here each layer is one kernel, a = g(x W + b), with the
// running sums kept in registers and the activation applied before they are stored: AVX2 + FMA where the
// CPU runs x86-64-v3 (per-function target attributes, so the library still runs on any x86-64), plain
// loops elsewhere. The arithmetic is the layer's (z = x W + b, then g), summed in another order than
// the GEMM's, so a row's outputs agree with a batch's to float rounding, not bit for bit.
#pragma once

#include "fastmlp/ops.hpp"  // Index, Activation

namespace fastmlp::capi {

// A plain Dense layer as the row kernel reads it: W (K x N, row-major) and b (N), the model's own
// parameters; g with alpha (leaky_relu, elu).
template <class T>
struct DenseRow {
  const T* W;
  const T* b;
  Index K, N;
  Activation g;
  T alpha;
};

// The row kernel for this CPU: a (N) = layer.g(x (K) W + b). a must not overlap x. Allocates nothing.
// Picked once (simd_level(): FASTMLP_ARCH=v2 forces the portable loops).
template <class T>
using DenseRowKernel = void (*)(const DenseRow<T>& layer, const T* x, T* a);

template <class T>
DenseRowKernel<T> dense_row_kernel();

}  // namespace fastmlp::capi
