// Optimizers update the flat parameter buffer from the flat gradient buffer,
// so one step is one loop over all parameters of the network.
#pragma once

#include "fastmlp/types.hpp"

namespace fastmlp {

template <class T>
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // params <- params - (update from grads), n entries each.
  virtual void step(T* params, const T* grads, Index n) = 0;
};

// Gradient descent  w <- w - alpha dJ/dw  (the seeds' update rule).
template <class T>
class SGD final : public Optimizer<T> {
 public:
  explicit SGD(T learning_rate);
  T learning_rate() const { return learning_rate_; }
  void step(T* params, const T* grads, Index n) override;

 private:
  T learning_rate_;
};

extern template class SGD<float>;
extern template class SGD<double>;

}  // namespace fastmlp
