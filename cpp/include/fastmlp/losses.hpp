// Losses J, always the mean over the batch, and the output error delta = dJ/dZ
// of the last layer. With sample weights w_i the mean is weighted:
// J = sum_i w_i l_i / sum_i w_i, and every 1/m below becomes w_i / sum_i w_i
// (so a weight of 2 is the same as the sample appearing twice).
//
//   binary_crossentropy       J = 1/(m k) sum_ik -(y ln p + (1-y) ln(1-p)),  p = sigmoid(z)
//       computed from the logits as max(z,0) - z y + ln(1 + e^-|z|)   (never log(0))
//       output error  delta = (p - y) / (m k)                   (needs a sigmoid output)
//   categorical_crossentropy  J = 1/m sum_i -sum_k y_ik ln p_ik,  p_i = softmax(z_i)
//       computed as sum_k y_ik (lse(z_i) - z_ik), lse = log-sum-exp (max-subtracted)
//       output error  delta = (p (sum_k y_ik) - y) / m  = (p - y)/m for one-hot rows
//       (needs a softmax output); labels may be class ids instead of one-hot rows
//   mse                       J = 1/(m k) sum_ik (a - y)^2      (any output activation)
//       output error  delta = 2 (a - y) / (m k) * g'(z)
//   mae                       J = 1/(m k) sum_ik |a - y|             (any output activation)
//       output error  delta = sign(a - y) / (m k) * g'(z)   (sign(0) = 0, as torch)
//   huber                     J = 1/(m k) sum_ik h(a - y),  h(r) = r^2 / 2 if |r| <= 1 else |r| - 1/2
//       output error  delta = clip(a - y, -1, 1) / (m k) * g'(z)   (delta = 1: Keras's and torch's default)
//   poisson                   J = 1/(m k) sum_ik (p - y ln p + y ln y - y),  p = e^z   (half the Poisson
//       deviance, scikit-learn's; y >= 0, 0 ln 0 = 0; computed from the logits, ln p = z)
//       output error  delta = (p - y) / (m k)                   (needs an exp output: the log link)
// The optional L2 term lives in Network, not here. The enum Loss and the per-entry formulas as
// scalar functions, shared with the CUDA kernels: elementwise.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "fastmlp/activations.hpp"
#include "fastmlp/elementwise.hpp"
#include "fastmlp/types.hpp"

namespace fastmlp {

// Cross-entropies (class targets, accuracy) versus the regression losses.
inline bool is_classification(Loss loss) {
  return loss == Loss::BinaryCrossentropy || loss == Loss::CategoricalCrossentropy;
}

Loss loss_from_name(const std::string& name);
const char* loss_name(Loss loss);

// Throws std::invalid_argument unless `output` is an activation the loss accepts.
void check_loss_output(Loss loss, Activation output);

// Targets of a batch: either dense rows (rows x cols, row-major) or class ids
// (rows entries in [0, cols), categorical cross-entropy only), and optional
// per-sample weights (rows entries >= 0). Not owned.
template <class T>
struct Targets {
  const T* dense = nullptr;
  const std::int32_t* labels = nullptr;
  Index rows = 0;
  Index cols = 0;
  const T* weights = nullptr;
  // >= 0: these rows are a block of a larger batch (Network::train_step) and this is that batch's mean
  // factor (mean_scale); < 0: the rows are the whole batch.
  T batch_scale = T(-1);

  static Targets from_dense(const T* y, Index rows, Index cols, const T* w = nullptr) {
    return {y, nullptr, rows, cols, w};
  }
  static Targets from_labels(const std::int32_t* y, Index rows, Index cols, const T* w = nullptr) {
    return {nullptr, y, rows, cols, w};
  }
  bool has_labels() const { return labels != nullptr; }
  // Rows [start, start + n) of these targets (their weights too).
  Targets slice(Index start, Index n) const {
    return {dense ? dense + start * cols : nullptr, labels ? labels + start : nullptr, n, cols,
            weights ? weights + start : nullptr};
  }
};

// The factor of the batch mean: 1 / rows, or 1 / sum w with sample weights (0 where they sum to 0: such a
// batch counts for nothing, not 0/0); a block of a batch's rows has its batch's (batch_scale).
template <class T>
T mean_scale(const Targets<T>& Y);

// Count of rows whose predicted class (arg-max of A, or A >= 0.5
// per column for a sigmoid output) equals the target's; multi-label rows count
// when every column matches.
template <class T>
Index count_correct(Loss loss, const MatrixMap<T>& A, const Targets<T>& Y);

// Throws std::invalid_argument when targets do not fit the loss: wrong shape,
// non-finite values, class ids out of [0, cols), binary targets outside [0, 1],
// negative or non-finite weights, or weights that sum to zero.
template <class T>
void validate_targets(Loss loss, const Targets<T>& Y, Index rows, Index cols);

// Z: the last layer's pre-activations (bias included), m x k. Turns Z into the
// activations A in place and returns the mean loss J. When `delta` is not null
// it also receives dJ/dZ (m x k) as documented above. `alpha` is the output
// activation's parameter (mse with leaky_relu / elu outputs).
template <class T>
T output_loss(Loss loss, Activation output, T alpha, MatrixMap<T> Z, const Targets<T>& Y, MatrixMap<T>* delta);

}  // namespace fastmlp
