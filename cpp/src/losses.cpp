#include "fastmlp/losses.hpp"
#include "fastmlp/names.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace fastmlp {

namespace {
constexpr Named<Loss> kLosses[] = {{Loss::BinaryCrossentropy, "binary_crossentropy"},
                                   {Loss::BinaryCrossentropy, "bce"},
                                   {Loss::BinaryCrossentropy, "log_loss"},
                                   {Loss::CategoricalCrossentropy, "categorical_crossentropy"},
                                   {Loss::CategoricalCrossentropy, "cross_entropy"},
                                   {Loss::CategoricalCrossentropy, "cce"},
                                   {Loss::CategoricalCrossentropy, "sparse_categorical_crossentropy"},
                                   {Loss::MeanSquaredError, "mse"},
                                   {Loss::MeanSquaredError, "mean_squared_error"},
                                   {Loss::MeanSquaredError, "squared_error"},
                                   {Loss::MeanAbsoluteError, "mae"},
                                   {Loss::MeanAbsoluteError, "mean_absolute_error"},
                                   {Loss::MeanAbsoluteError, "absolute_error"},
                                   {Loss::Huber, "huber"},
                                   {Loss::Huber, "huber_loss"},
                                   {Loss::Poisson, "poisson"}};
}  // namespace

Loss loss_from_name(const std::string& name) { return from_name(kLosses, name, "loss"); }
const char* loss_name(Loss loss) { return name_of(kLosses, loss); }

void check_loss_output(Loss loss, Activation output) {
  if (loss == Loss::BinaryCrossentropy && output != Activation::Sigmoid)
    throw std::invalid_argument(std::string("loss 'binary_crossentropy' needs a sigmoid output layer, got '") +
                                activation_name(output) + "'");
  if (loss == Loss::Poisson && output != Activation::Exp)
    throw std::invalid_argument(std::string("loss 'poisson' needs an exp output layer (the log link), got '") +
                                activation_name(output) + "'");
  if (loss == Loss::CategoricalCrossentropy && output != Activation::Softmax)
    throw std::invalid_argument(std::string("loss 'categorical_crossentropy' needs a softmax output layer, got '") +
                                activation_name(output) + "'");
}

template <class T>
void validate_targets(Loss loss, const Targets<T>& Y, Index rows, Index cols) {
  const std::string seen = " (X has " + std::to_string(rows) + " rows, the model " + std::to_string(cols) + " outputs)";
  if (Y.rows != rows)
    throw std::invalid_argument("y has " + std::to_string(Y.rows) + " rows but X has " + std::to_string(rows));
  if (Y.weights) {
    const auto w = Eigen::Map<const Vector<T>>(Y.weights, rows).array();
    if (!all_finite(w) || (w < T(0)).any()) throw std::invalid_argument("sample_weight must be finite and >= 0");
    if (!(w.sum() > T(0))) throw std::invalid_argument("sample_weight sums to 0: no sample would count");
  }
  if (Y.has_labels()) {
    if (loss != Loss::CategoricalCrossentropy)
      throw std::invalid_argument(std::string("y as class ids needs categorical_crossentropy, the loss is ") +
                                  loss_name(loss));
    for (Index i = 0; i < rows; ++i)
      if (Y.labels[i] < 0 || Y.labels[i] >= cols)
        throw std::invalid_argument("y holds class id " + std::to_string(Y.labels[i]) + " at row " + std::to_string(i) +
                                    ", outside [0, " + std::to_string(cols) + ")" + seen);
    return;
  }
  if (Y.cols != cols)
    throw std::invalid_argument("y has " + std::to_string(Y.cols) + " columns but the model has " +
                                std::to_string(cols) + " outputs" + seen);
  const auto y = ConstMatrixMap<T>(Y.dense, rows, cols).array();
  if (!all_finite(y)) throw std::invalid_argument("y contains NaN or infinity");
  if (loss == Loss::Poisson && (y < T(0)).any())
    throw std::invalid_argument("y must be >= 0 for poisson, found " + std::to_string(double(y.minCoeff())));
  if (is_classification(loss) && ((y < T(0)).any() || (y > T(1)).any()))
    throw std::invalid_argument(std::string("y must lie in [0, 1] for ") + loss_name(loss) + ", found values in [" +
                                std::to_string(double(y.minCoeff())) + ", " + std::to_string(double(y.maxCoeff())) +
                                "]");
}

template <class T>
T mean_scale(const Targets<T>& Y) {
  if (Y.batch_scale >= T(0)) return Y.batch_scale;
  if (!Y.weights) return T(1) / T(Y.rows);
  const T sum = Eigen::Map<const Vector<T>>(Y.weights, Y.rows).sum();
  return sum > T(0) ? T(1) / sum : T(0);
}

namespace {

// Per-row factor of the mean: mean_scale, times w_i with sample weights.
template <class T>
struct RowScale {
  const T* w;
  T base;
  explicit RowScale(const Targets<T>& Y) : w(Y.weights), base(mean_scale(Y)) {}
  T operator()(Index i) const { return w ? w[i] * base : base; }
};

// J = sum_i s_i (sum_k l_ik) / k: the (weighted) mean of a loss's entries l (m x k).
template <class T, class Entries>
T mean_of(const Entries& l, const Targets<T>& Y, const RowScale<T>& scale, T inv_k) {
  if (!Y.weights) return l.sum() * scale.base * inv_k;
  const auto w = Eigen::Map<const Vector<T>>(Y.weights, l.rows()).array();
  return (l.rowwise().sum() * w).sum() * scale.base * inv_k;
}

// J_i = sum_k y_ik (lse_i - z_ik) = ysum_i lse_i - y_i . z_i (labels: lse_i - z_i,label), then Z becomes
// A = softmax(Z) (activations.cpp's softmax_rows, which also gives lse) and delta_i = (p_i ysum_i - y_i) s_i.
template <class T>
T softmax_crossentropy(MatrixMap<T>& Z, const Targets<T>& Y, MatrixMap<T>* delta) {
  const Index m = Z.rows(), k = Z.cols();
  const RowScale<T> scale(Y);
  thread_local std::vector<T> zy, lse;  // y_i . z_i (read before Z becomes A) and log-sum-exp; grown only
  if (zy.size() < std::size_t(m)) zy.resize(std::size_t(m)), lse.resize(std::size_t(m));
  for (Index i = 0; i < m; ++i)
    zy[i] = Y.has_labels() ? Z(i, Y.labels[i]) : ConstRowVectorMap<T>(Y.dense + i * Y.cols, k).dot(Z.row(i));
  softmax_rows<T>(Z, lse.data());
  T total = 0;
  for (Index i = 0; i < m; ++i) {
    const T s = scale(i);
    if (Y.has_labels()) {
      total += s * (lse[i] - zy[i]);
      if (delta) {
        auto d = delta->row(i);
        d = Z.row(i) * s;
        d(Y.labels[i]) -= s;
      }
    } else {
      const auto y = ConstRowVectorMap<T>(Y.dense + i * Y.cols, k);
      const T ysum = y.sum();
      total += s * (ysum * lse[i] - zy[i]);
      if (delta) delta->row(i) = (Z.row(i) * ysum - y) * s;
    }
  }
  return total;
}

// A loss computed from the logits z with its link p = link(z) (sigmoid + binary cross-entropy,
// exp + poisson): J = the (weighted) mean of entry(z, y), Z becomes A = p, delta = (p - y) s / k.
// The entries and links are elementwise.hpp's (bce_from_logit, poisson_from_logit), vectorised.
template <class T, class Entry, class Link>
T from_logits(MatrixMap<T>& Z, const Targets<T>& Y, MatrixMap<T>* delta, Entry entry, Link link) {
  const auto y = ConstMatrixMap<T>(Y.dense, Z.rows(), Z.cols()).array();
  auto z = Z.array();
  const RowScale<T> scale(Y);
  const T inv_k = T(1) / T(Z.cols());
  const T total = mean_of<T>(entry(z, y), Y, scale, inv_k);
  z = link(z);
  if (delta) {
    if (Y.weights)
      for (Index i = 0; i < Z.rows(); ++i) delta->row(i).array() = (z.row(i) - y.row(i)) * (scale(i) * inv_k);
    else
      delta->array() = (z - y) * (scale.base * inv_k);
  }
  return total;
}

template <class T>
T sigmoid_crossentropy(MatrixMap<T>& Z, const Targets<T>& Y, MatrixMap<T>* delta) {
  return from_logits<T>(
      Z, Y, delta,
      // max(z,0) - z y + ln(1 + e^-|z|) == -(y ln p + (1-y) ln(1-p)), without log(0)
      [](const auto& z, const auto& y) { return z.max(T(0)) - z * y + (-z.abs()).exp().log1p(); },
      // stable sigmoid: e^-|z| never overflows
      [](const auto& z) { return (z >= T(0)).select(T(1) / (T(1) + (-z).exp()), z.exp() / (T(1) + z.exp())); });
}

// Poisson from the logits (ln p = z): p - y z + y ln y - y per entry (0 ln 0 = 0); A = e^z.
template <class T>
T poisson_from_logits(MatrixMap<T>& Z, const Targets<T>& Y, MatrixMap<T>* delta) {
  return from_logits<T>(
      Z, Y, delta,
      [](const auto& z, const auto& y) {
        return z.exp() - y * z + (y > T(0)).select(y * y.max(std::numeric_limits<T>::min()).log(), T(0)) - y;
      },
      [](const auto& z) { return z.exp(); });
}

// The regression losses on A = g(Z): l(r) per entry, r = a - y, and dl/dr (elementwise.hpp's
// regression_l and regression_dl_dr, vectorised).
template <class T>
T regression_loss(Loss loss, Activation g, T alpha, MatrixMap<T>& Z, const Targets<T>& Y, MatrixMap<T>* delta) {
  Matrix<T> z_copy;
  if (delta && needs_z(g)) z_copy = Z;  // g' of gelu / silu / mish reads Z
  activate<T>(g, alpha, Z);
  const auto y = ConstMatrixMap<T>(Y.dense, Z.rows(), Z.cols()).array();
  const RowScale<T> scale(Y);
  const T inv_k = T(1) / T(Z.cols());
  const auto r = Z.array() - y;
  Matrix<T> l;
  switch (loss) {
    case Loss::MeanAbsoluteError: l = r.abs().matrix(); break;
    case Loss::Huber: l = (r.abs() <= T(1)).select(T(0.5) * r.square(), r.abs() - T(0.5)).matrix(); break;
    default: l = r.square().matrix(); break;
  }
  const T total = mean_of<T>(l.array(), Y, scale, inv_k);
  if (delta) {
    auto d = delta->array();
    switch (loss) {  // dl/dr
      case Loss::MeanAbsoluteError:
        d = r.unaryExpr([](T v) { return elementwise::regression_dl_dr(Loss::MeanAbsoluteError, v); });
        break;
      case Loss::Huber: d = r.max(T(-1)).min(T(1)); break;
      default: d = T(2) * r; break;
    }
    if (Y.weights)
      for (Index i = 0; i < Z.rows(); ++i) delta->row(i) *= scale(i) * inv_k;
    else
      d *= scale.base * inv_k;
    if (needs_z(g))
      backward_from_z<T>(g, MatrixMap<T>(z_copy.data(), z_copy.rows(), z_copy.cols()), *delta);
    else
      backward<T>(g, alpha, Z, *delta);
  }
  return total;
}

}  // namespace

template <class T>
T output_loss(Loss loss, Activation output, T alpha, MatrixMap<T> Z, const Targets<T>& Y, MatrixMap<T>* delta) {
  switch (loss) {
    case Loss::CategoricalCrossentropy: return softmax_crossentropy<T>(Z, Y, delta);
    case Loss::BinaryCrossentropy: return sigmoid_crossentropy<T>(Z, Y, delta);
    case Loss::Poisson: return poisson_from_logits<T>(Z, Y, delta);
    default: return regression_loss<T>(loss, output, alpha, Z, Y, delta);
  }
  return T(0);
}

template <class T>
Index count_correct(Loss loss, const MatrixMap<T>& A, const Targets<T>& Y) {
  Index correct = 0;
  const Index m = A.rows(), k = A.cols();
  for (Index i = 0; i < m; ++i) {
    if (loss == Loss::CategoricalCrossentropy) {
      Index pred, truth;
      A.row(i).maxCoeff(&pred);
      if (Y.has_labels())
        truth = Y.labels[i];
      else
        ConstRowVectorMap<T>(Y.dense + i * k, k).maxCoeff(&truth);
      correct += pred == truth;
    } else {  // sigmoid outputs: every column thresholded at 0.5
      bool all = true;
      for (Index j = 0; j < k; ++j) all = all && ((A(i, j) >= T(0.5)) == (Y.dense[i * k + j] >= T(0.5)));
      correct += all;
    }
  }
  return correct;
}

#define FASTMLP_INSTANTIATE(T)                                                                    \
  template void validate_targets<T>(Loss, const Targets<T>&, Index, Index);                       \
  template T output_loss<T>(Loss, Activation, T, MatrixMap<T>, const Targets<T>&, MatrixMap<T>*); \
  template Index count_correct<T>(Loss, const MatrixMap<T>&, const Targets<T>&);                  \
  template T mean_scale<T>(const Targets<T>&);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

}  // namespace fastmlp
