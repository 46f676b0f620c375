// CpuEngine<T> (engine.hpp): the steps of the training loop on a Network<T> in host memory.
#include <algorithm>

#include "fastmlp/engine.hpp"

namespace fastmlp {

template <class T>
void CpuEngine<T>::forward(const ConstRef<T>& X, T* out) {
  auto A = net_.forward(X);
  MatrixMap<T>(out, A.rows(), A.cols()) = A;
}

template <class T>
void CpuEngine<T>::begin_fit(const ConstRef<T>& X, const Targets<T>& Y, const Validation<T>& validation) {
  set_data(X, Y);
  val_ = validation;
  correct_ = 0;
}

template <class T>
void CpuEngine<T>::set_data(const ConstRef<T>& X, const Targets<T>& Y) {
  X_ = X.data();
  ld_ = X.outerStride();
  Y_ = Y;
  order_ = nullptr;
}

// The batch: rows [start, start + rows) of X in place, or the rows order_[start, ...) gathered
// into buffers of the batch size (the shuffled epochs).
template <class T>
void CpuEngine<T>::bring_batch(Index start, Index rows) {
  const Index d = net_.n_inputs(), k = Y_.cols;
  rows_ = rows;
  if (!order_) {
    bX_ = X_ + start * ld_;
    bld_ = ld_;
    bY_ = Y_.slice(start, rows);
    return;
  }
  if (gX_.rows() < rows) gX_.resize(rows, d);  // grown once to the batch size, then reused
  if (Y_.has_labels() && Index(glabels_.size()) < rows) glabels_.resize(std::size_t(rows));
  if (!Y_.has_labels() && (gY_.rows() < rows || gY_.cols() != k)) gY_.resize(rows, k);
  if (Y_.weights && gw_.size() < rows) gw_.resize(rows);
  const Index* idx = order_ + start;
  for (Index i = 0; i < rows; ++i) {
    const Index r = idx[i];
    gX_.row(i) = ConstRowVectorMap<T>(X_ + r * ld_, d);
    if (Y_.has_labels())
      glabels_[std::size_t(i)] = Y_.labels[r];
    else
      gY_.row(i) = ConstRowVectorMap<T>(Y_.dense + r * k, k);
    if (Y_.weights) gw_[i] = Y_.weights[r];
  }
  bX_ = gX_.data();
  bld_ = d;
  const T* w = Y_.weights ? gw_.data() : nullptr;
  bY_ = Y_.has_labels() ? Targets<T>::from_labels(glabels_.data(), rows, k, w)
                        : Targets<T>::from_dense(gY_.data(), rows, k, w);
}

template <class T>
void CpuEngine<T>::output_error(Index j) {
  Index c = 0;
  losses_[std::size_t(j)] = net_.output_error(bY_, true, &c);
  correct_ += c;
}

template <class T>
void CpuEngine<T>::train_step(const DropoutDraw& dropout, Index j, T sgd_rate) {
  Index c = 0;
  losses_[std::size_t(j)] = net_.train_step(batch_X(), bY_, dropout, sgd_rate, &c);
  correct_ += c;
}

template <class T>
bool CpuEngine<T>::add_grad_norms(double* sums) {
  if (sums)
    for (Index l = 0; l < net_.num_layers(); ++l) sums[l] += double(net_.dW(l).norm());
  return true;
}

template <class T>
void CpuEngine<T>::read_losses(Index first, Index n, T* losses, Index* correct) {
  std::copy(losses_.begin() + first, losses_.begin() + n, losses + first);
  if (correct) *correct = correct_;
  correct_ = 0;
}

template <class T>
T CpuEngine<T>::evaluate_validation(Index start, Index rows, Index* correct) {
  const Index d = net_.n_inputs();
  return net_.evaluate_unchecked(ConstMatrixMap<T>(val_.X + start * d, rows, d), val_.Y.slice(start, rows), correct);
}

template <class T>
void CpuEngine<T>::reduce_grads(bool have_rows, T scale, const std::function<void(T*, Index)>& sum) {
  auto g = Eigen::Map<Vector<T>>(net_.grads(), net_.num_params());
  if (!have_rows)
    g.setZero();
  else if (scale != T(1))
    g *= scale;
  sum(g.data(), g.size());
}

template class CpuEngine<float>;
template class CpuEngine<double>;

}  // namespace fastmlp
