#include "fastmlp/losses.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace fastmlp {

Loss loss_from_name(const std::string& name) {
  if (name == "binary_crossentropy" || name == "bce" || name == "log_loss") return Loss::BinaryCrossentropy;
  if (name == "categorical_crossentropy" || name == "cross_entropy" || name == "cce")
    return Loss::CategoricalCrossentropy;
  if (name == "mse" || name == "mean_squared_error" || name == "squared_error") return Loss::MeanSquaredError;
  throw std::invalid_argument("unknown loss '" + name +
                              "' (expected one of: binary_crossentropy, categorical_crossentropy, mse)");
}

const char* loss_name(Loss loss) {
  switch (loss) {
    case Loss::BinaryCrossentropy: return "binary_crossentropy";
    case Loss::CategoricalCrossentropy: return "categorical_crossentropy";
    case Loss::MeanSquaredError: return "mse";
  }
  return "?";
}

void check_loss_output(Loss loss, Activation output) {
  if (loss == Loss::BinaryCrossentropy && output != Activation::Sigmoid)
    throw std::invalid_argument(std::string("loss 'binary_crossentropy' needs a sigmoid output layer, got '") +
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
  if (Y.has_labels()) {
    if (loss != Loss::CategoricalCrossentropy)
      throw std::invalid_argument(std::string("y as class ids needs categorical_crossentropy, the loss is ") +
                                  loss_name(loss));
    for (Index i = 0; i < rows; ++i)
      if (Y.labels[i] < 0 || Y.labels[i] >= cols)
        throw std::invalid_argument("y holds class id " + std::to_string(Y.labels[i]) + " at row " +
                                    std::to_string(i) + ", outside [0, " + std::to_string(cols) + ")" + seen);
    return;
  }
  if (Y.cols != cols)
    throw std::invalid_argument("y has " + std::to_string(Y.cols) + " columns but the model has " +
                                std::to_string(cols) + " outputs" + seen);
  const auto y = ConstMatrixMap<T>(Y.dense, rows, cols).array();
  if (!y.allFinite()) throw std::invalid_argument("y contains NaN or infinity");
  if (loss != Loss::MeanSquaredError && ((y < T(0)).any() || (y > T(1)).any()))
    throw std::invalid_argument(std::string("y must lie in [0, 1] for ") + loss_name(loss) + ", found values in [" +
                                std::to_string(double(y.minCoeff())) + ", " + std::to_string(double(y.maxCoeff())) +
                                "]");
}

namespace {

template <class T>
T softmax_crossentropy(MatrixMap<T>& Z, const Targets<T>& Y, MatrixMap<T>* delta) {
  const Index m = Z.rows();
  const T inv_m = T(1) / T(m);
  T total = 0;
  for (Index i = 0; i < m; ++i) {
    auto z = Z.row(i);
    const T zmax = z.maxCoeff();
    const T lse = zmax + std::log((z.array() - zmax).exp().sum());
    T ysum = 1;
    if (Y.has_labels()) {
      total += lse - z(Y.labels[i]);
    } else {
      const auto y = ConstRowVectorMap<T>(Y.dense + i * Y.cols, Y.cols);
      ysum = y.sum();
      total += ysum * lse - y.dot(z);  // sum_k y_k (lse - z_k)
    }
    z = (z.array() - lse).exp();  // p = e^(z - lse), now A
    if (delta) {
      auto d = delta->row(i);
      if (Y.has_labels()) {
        d = z * inv_m;
        d(Y.labels[i]) -= inv_m;
      } else {
        d = (z * ysum - ConstRowVectorMap<T>(Y.dense + i * Y.cols, Y.cols)) * inv_m;
      }
    }
  }
  return total * inv_m;
}

template <class T>
T sigmoid_crossentropy(MatrixMap<T>& Z, const Targets<T>& Y, MatrixMap<T>* delta) {
  const auto y = ConstMatrixMap<T>(Y.dense, Z.rows(), Z.cols()).array();
  auto z = Z.array();
  const T inv_n = T(1) / T(Z.size());
  // max(z,0) - z y + ln(1 + e^-|z|) == -(y ln p + (1-y) ln(1-p)), without log(0).
  const T total = (z.max(T(0)) - z * y + (-z.abs()).exp().log1p()).sum();
  // Stable sigmoid: e^-|z| never overflows.
  z = (z >= T(0)).select(T(1) / (T(1) + (-z).exp()), z.exp() / (T(1) + z.exp()));
  if (delta) delta->array() = (z - y) * inv_n;
  return total * inv_n;
}

template <class T>
T squared_error(Activation g, MatrixMap<T>& Z, const Targets<T>& Y, MatrixMap<T>* delta) {
  activate<T>(g, Z);
  const auto y = ConstMatrixMap<T>(Y.dense, Z.rows(), Z.cols()).array();
  const T inv_n = T(1) / T(Z.size());
  const T total = (Z.array() - y).square().sum();
  if (delta) {
    delta->array() = (Z.array() - y) * (T(2) * inv_n);
    backward<T>(g, Z, *delta);
  }
  return total * inv_n;
}

}  // namespace

template <class T>
T output_loss(Loss loss, Activation output, MatrixMap<T> Z, const Targets<T>& Y, MatrixMap<T>* delta) {
  switch (loss) {
    case Loss::CategoricalCrossentropy: return softmax_crossentropy<T>(Z, Y, delta);
    case Loss::BinaryCrossentropy: return sigmoid_crossentropy<T>(Z, Y, delta);
    case Loss::MeanSquaredError: return squared_error<T>(output, Z, Y, delta);
  }
  return T(0);
}

template void validate_targets<float>(Loss, const Targets<float>&, Index, Index);
template void validate_targets<double>(Loss, const Targets<double>&, Index, Index);
template float output_loss<float>(Loss, Activation, MatrixMap<float>, const Targets<float>&, MatrixMap<float>*);
template double output_loss<double>(Loss, Activation, MatrixMap<double>, const Targets<double>&, MatrixMap<double>*);

}  // namespace fastmlp
