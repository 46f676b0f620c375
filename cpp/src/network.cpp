#include "fastmlp/network.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "fastmlp/random.hpp"

namespace fastmlp {

namespace {
std::string shape(Index r, Index c) { return "(" + std::to_string(r) + ", " + std::to_string(c) + ")"; }
}  // namespace

template <class T>
Network<T>::Network(std::vector<LayerSpec> layers, Loss loss, T l2) : layers_(std::move(layers)), loss_(loss), l2_(0) {
  if (layers_.empty()) throw std::invalid_argument("layers: a network needs at least one layer");
  Index n = 0;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const auto& s = layers_[l];
    if (s.n_in <= 0 || s.n_out <= 0)
      throw std::invalid_argument("layers[" + std::to_string(l) + "]: sizes must be positive, got " +
                                  shape(s.n_in, s.n_out));
    if (l > 0 && s.n_in != layers_[l - 1].n_out)
      throw std::invalid_argument("layers[" + std::to_string(l) + "] takes " + std::to_string(s.n_in) +
                                  " inputs but layers[" + std::to_string(l - 1) + "] gives " +
                                  std::to_string(layers_[l - 1].n_out) + " outputs");
    offsets_.push_back(n);
    n += s.n_in * s.n_out + s.n_out;
  }
  check_loss_output(loss_, layers_.back().activation);
  set_l2(l2);
  params_ = Vector<T>::Zero(n);
  grads_ = Vector<T>::Zero(n);
  A_.resize(layers_.size());
  D_.resize(layers_.size());
}

template <class T>
void Network<T>::set_l2(T l2) {
  if (!(l2 >= T(0)) || !std::isfinite(double(l2)))
    throw std::invalid_argument("l2 must be a finite number >= 0, got " + std::to_string(double(l2)));
  l2_ = l2;
}

template <class T>
void Network<T>::init_params(std::uint64_t seed) {
  Rng rng(seed);
  for (Index l = 0; l < num_layers(); ++l) {
    const auto& s = layers_[l];
    const double fan = s.activation == Activation::Relu ? double(s.n_in) : double(s.n_in + s.n_out);
    const double limit = std::sqrt(6.0 / fan);
    auto w = W(l);
    for (Index i = 0; i < w.size(); ++i) w.data()[i] = T((2.0 * rng.uniform() - 1.0) * limit);
    b(l).setZero();
  }
}

template <class T>
void Network<T>::validate_inputs(const ConstRef<T>& X) const {
  if (X.rows() == 0 || X.cols() == 0)
    throw std::invalid_argument("X is empty: shape " + shape(X.rows(), X.cols()));
  if (X.cols() != n_inputs())
    throw std::invalid_argument("X has " + std::to_string(X.cols()) + " features but the model expects " +
                                std::to_string(n_inputs()) + ": X shape " + shape(X.rows(), X.cols()));
  if (!X.allFinite()) throw std::invalid_argument("X contains NaN or infinity");
}

template <class T>
void Network<T>::validate(const ConstRef<T>& X, const Targets<T>& Y) const {
  validate_inputs(X);
  validate_targets(loss_, Y, X.rows(), n_outputs());
}

template <class T>
void Network<T>::reserve(Index m) {
  if (m <= capacity_) return;
  for (Index l = 0; l < num_layers(); ++l) {
    A_[l].resize(m, layers_[l].n_out);
    D_[l].resize(m, layers_[l].n_out);
  }
  capacity_ = m;
}

template <class T>
void Network<T>::forward_to_logits(const ConstRef<T>& X) {
  const Index m = X.rows();
  reserve(m);
  const Index L = num_layers();
  for (Index l = 0; l < L; ++l) {
    auto Z = act(l, m);
    if (l == 0)
      Z.noalias() = X * W(0);
    else
      Z.noalias() = act(l - 1, m) * W(l);
    // The output layer stays Z (bias added): the loss activates it.
    const Activation g = l + 1 < L ? layers_[l].activation : Activation::Linear;
    add_bias_activate<T>(g, ConstRowVectorMap<T>(b(l).data(), b(l).size()), Z);
  }
}

template <class T>
MatrixMap<T> Network<T>::forward_unchecked(const ConstRef<T>& X) {
  forward_to_logits(X);
  auto A = act(num_layers() - 1, X.rows());
  activate<T>(layers_.back().activation, A);
  return A;
}

template <class T>
MatrixMap<T> Network<T>::forward(const ConstRef<T>& X) {
  validate_inputs(X);
  return forward_unchecked(X);
}

template <class T>
T Network<T>::l2_penalty() const {
  if (l2_ == T(0)) return T(0);
  T s = 0;
  for (Index l = 0; l < num_layers(); ++l)
    s += ConstMatrixMap<T>(params_.data() + offsets_[l], layers_[l].n_in, layers_[l].n_out).squaredNorm();
  return T(0.5) * l2_ * s;
}

template <class T>
T Network<T>::objective(const ConstRef<T>& X, const Targets<T>& Y) {
  validate(X, Y);
  forward_to_logits(X);
  const Index L = num_layers();
  return output_loss<T>(loss_, layers_[L - 1].activation, act(L - 1, X.rows()), Y, nullptr) + l2_penalty();
}

template <class T>
T Network<T>::gradients(const ConstRef<T>& X, const Targets<T>& Y) {
  validate(X, Y);
  return gradients_unchecked(X, Y);
}

template <class T>
T Network<T>::gradients_unchecked(const ConstRef<T>& X, const Targets<T>& Y) {
  const Index m = X.rows();
  const Index L = num_layers();
  forward_to_logits(X);
  auto dL = delta(L - 1, m);
  const T J = output_loss<T>(loss_, layers_[L - 1].activation, act(L - 1, m), Y, &dL) + l2_penalty();
  for (Index l = L - 1; l >= 0; --l) {
    auto D = delta(l, m);
    if (l == 0)
      dW(l).noalias() = X.transpose() * D;
    else
      dW(l).noalias() = act(l - 1, m).transpose() * D;
    if (l2_ != T(0)) dW(l) += l2_ * W(l);
    db(l).noalias() = D.colwise().sum();
    if (l > 0) {
      auto Dprev = delta(l - 1, m);
      Dprev.noalias() = D * W(l).transpose();
      backward<T>(layers_[l - 1].activation, act(l - 1, m), Dprev);
    }
  }
  return J;
}

template <class T>
std::vector<std::pair<Matrix<T>, Matrix<T>>> Network<T>::trace(const ConstRef<T>& X) {
  validate_inputs(X);
  std::vector<std::pair<Matrix<T>, Matrix<T>>> out;
  for (Index l = 0; l < num_layers(); ++l) {
    Matrix<T> Z;
    if (l == 0)
      Z.noalias() = X * W(0);
    else
      Z.noalias() = out.back().second * W(l);
    Z.rowwise() += b(l);
    Matrix<T> A = Z;
    activate<T>(layers_[l].activation, MatrixMap<T>(A.data(), A.rows(), A.cols()));
    out.emplace_back(std::move(Z), std::move(A));
  }
  return out;
}

template class Network<float>;
template class Network<double>;

}  // namespace fastmlp
