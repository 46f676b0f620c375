// int8 inference products (model.quantize("int8")): a Dense layer z = x W + b computed from
// 7-bit int8 weights and u8 activations with int32 accumulation.
//
//   weights, per output column j (symmetric, once):  s_j = max_i |W_ij| / 63  (1 for a zero column),
//                                                    Wq_ij = rint(W_ij / s_j) in [-63, 63]   (s8, 7 bits)
//   activations, per row r (dynamic, every call):    lo = min(0, min_i x_i), hi = max(0, max_i x_i),
//                                                    s_r = (hi - lo) / 255, inv = 1 / s_r,
//                                                    zp_r = rint(-lo inv) in [0, 255],
//                                                    q_ri = clamp(rint(x_i inv) + zp_r, 0, 255)   (u8)
//                                                    (a row of zeros: s_r = 1, zp_r = 0, q = 0)
//   product (exact in int32):                        C_rj = sum_i q_ri Wq_ij - zp_r colsum_j
//   dequantized:                                     z_rj = float(C_rj) (s_r s_j) + b_j
//
// Why 7-bit weights: AVX2 has no u8 x s8 -> int32 dot product; vpmaddubsw multiplies u8 by s8 and
// adds neighbouring pairs into int16 with saturation. With q <= 255 and |Wq| <= 63 a pair is at
// most 2 * 255 * 63 = 32130 <= 32767: it never saturates, so vpmaddubsw + vpmaddwd (pairs of pairs
// into int32), vpdpbusd (VNNI, no saturation at all) and the portable loop give the same int32
// sums, which the tests compare with NumPy bit for bit (onnxruntime's reduce_range makes the same
// choice for the same reason). The alternatives measured on this kernel: 7-bit activations with
// 8-bit weights cost accuracy (the bench net on generated data: 96.5% top-1 agreement with float32
// against 99.2% here); int16 pairs (vpmaddwd, exact with 8-bit weights) ran at 68 GMAC/s against
// 99 for vpmaddubsw on a Zen 3 core (one 64 x 784 x 256 block, best of 400).
// Why dynamic: an MLP's hidden activations change range from sample to sample; a per-row range
// needs no calibration data and costs one pass over x (onnxruntime's quantize_dynamic, likewise).
// Limits: d <= kInt8MaxInputs (|C| <= d 255 63 < 2^31: int32 never overflows).
#pragma once

#include <cstdint>
#include <vector>

#include "fastmlp/types.hpp"

namespace fastmlp {

constexpr int kInt8WeightMax = 63;         // |Wq| is at most this (see above)
constexpr int kInt8ActMax = 255;           // q (u8) is at most this
constexpr Index kInt8Panel = 16;           // columns per packed panel
constexpr Index kInt8MaxInputs = 1 << 16;  // n_in of an int8 layer

// Scratch of one thread for int8_dense and int8_chain: kInt8BlockRows rows of quantized activations
// (x W.d4 bytes), their scales and zero points; for a chain, two blocks of hidden activations
// (kInt8BlockRows x the widest hidden layer's k floats each; null for one layer).
constexpr Index kInt8BlockRows = 64;
struct Int8Scratch {
  std::uint8_t* Q;
  float* s;
  std::int32_t* zp;
  float* H[2] = {nullptr, nullptr};
};

// Per-column symmetric quantization of W (d x k, row-major): Wq (d x k) and s (k), as above.
void quantize_weights_int8(const float* W, Index d, Index k, std::int8_t* Wq, float* s);

// The weights as the kernel reads them: panels of 16 columns (the last one padded with zeros),
// each panel d4 / 4 groups of [16 columns][4 consecutive inputs] (vpdpbusd's layout), d4 = d
// rounded up to a multiple of 4 (padded with zeros); the column sums for the zero points.
struct Int8Weights {
  Index d = 0, k = 0, d4 = 0;
  std::vector<std::int8_t> packed;
  std::vector<std::int32_t> col_sums;  // k entries, padded to the panels with 0
  std::vector<float> scale;            // s_j, padded with 0
};
// From Wq given as numbers (the layer's tensor): throws std::invalid_argument unless every one is an
// integer in [-63, 63] and s_j is finite and >= 0, or when d > kInt8MaxInputs.
template <class T>
void pack_int8_weights(const T* Wq, const T* s, Index d, Index k, Int8Weights& out);

// The activations' quantization, as above: Q (m x ldq, ldq >= d rounded up to 4; columns past d
// set to 0), s (m), zp (m). A row holding a NaN or an infinity gets s = NaN, zp = 0, q = 0 (its
// dequantized products are NaN, as float arithmetic gives); returns false when there was one (the
// check rides on the min/max pass: no pass of its own).
bool quantize_rows_int8(const float* X, Index m, Index d, Index ldx, std::uint8_t* Q, Index ldq, float* s,
                        std::int32_t* zp);

// C (m x k, row stride ldc) = Q (m x W.d4, row stride ldq; u8) Wq, exact int32 (no zero point: tests).
void int8_gemm_s32(const std::uint8_t* Q, Index m, Index ldq, const Int8Weights& W, std::int32_t* C, Index ldc);

// Z (m x k, row stride ldz) = the dequantized product of x (m x d, row stride ldx) and W, plus b
// (null: none), then max(z, 0) where relu (fused: no second pass over Z; the same bits as Eigen's
// max(0)). Rows split across threads (threads.hpp); every row's arithmetic is the same for any split.
// Returns false when x holds a NaN or an infinity (that row of Z is NaN: see quantize_rows_int8).
bool int8_dense(const float* X, Index m, Index ldx, const Int8Weights& W, const float* b, float* Z, Index ldz,
                bool relu = false);

// One layer of int8_chain: its packed weights, its bias (null: none), and max(z, 0) after it or not.
struct Int8Layer {
  const Int8Weights* W;
  const float* b;
  bool relu;
};
// Z (m x k of the last layer, row stride ldz) = layers[n - 1]( ... layers[0](x)), each as int8_dense
// (layers[l + 1].W->d == layers[l].W->k). Runs blocks of kInt8BlockRows rows through every layer in
// turn: a block's hidden activations (64 x 256 floats: 64 KB) stay in the core's L2 between one
// layer's epilogue and the next one's quantization, where layer by layer over the whole batch they
// went to memory and back (10,000 x 256 floats: 10 MB). The same arithmetic per row, so the same bits
// as int8_dense layer by layer. Returns false when x holds a NaN or an infinity (as int8_dense; the
// hidden layers' NaN rows give NaN rows of Z).
bool int8_chain(const float* X, Index m, Index ldx, const Int8Layer* layers, Index n, float* Z, Index ldz);

// The kernel in use (picked at run time from the CPU and fastmlp::simd_level()): "avx512vnni",
// "avxvnni", "avx2" or "portable". FASTMLP_INT8=avx2 or =portable forces a lower one.
const char* int8_isa();

}  // namespace fastmlp
