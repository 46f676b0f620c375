#include "fastmlp/optimizers.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace fastmlp {

template <class T>
SGD<T>::SGD(T learning_rate) : learning_rate_(learning_rate) {
  if (!(learning_rate > T(0)) || !std::isfinite(double(learning_rate)))
    throw std::invalid_argument("learning_rate must be a finite number > 0, got " +
                                std::to_string(double(learning_rate)));
}

template <class T>
void SGD<T>::step(T* params, const T* grads, Index n) {
  Eigen::Map<Vector<T>>(params, n) -= learning_rate_ * Eigen::Map<const Vector<T>>(grads, n);
}

template class SGD<float>;
template class SGD<double>;

}  // namespace fastmlp
