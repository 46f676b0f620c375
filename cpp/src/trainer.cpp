#include "fastmlp/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "fastmlp/random.hpp"

namespace fastmlp {

template <class T>
std::vector<T> fit(Network<T>& net, Optimizer<T>& optimizer, const ConstRef<T>& X, const Targets<T>& Y,
                   const FitOptions& options, const EpochCallback<T>& callback) {
  if (options.epochs < 1) throw std::invalid_argument("epochs must be >= 1, got " + std::to_string(options.epochs));
  if (options.batch_size < 0)
    throw std::invalid_argument("batch_size must be > 0, got " + std::to_string(options.batch_size));
  if (!(options.tol >= 0.0)) throw std::invalid_argument("tol must be >= 0, got " + std::to_string(options.tol));
  net.validate(X, Y);  // once: the loop below runs unchecked

  const Index m = X.rows(), d = X.cols(), k = Y.cols;
  const Index bs = options.batch_size == 0 ? m : std::min(options.batch_size, m);
  const bool gather = options.shuffle && bs < m;  // a full batch needs no shuffling: the gradient is the same

  std::vector<Index> order(static_cast<std::size_t>(m));
  std::iota(order.begin(), order.end(), Index(0));
  Rng rng(options.seed);
  // Shuffled batches are gathered into these; unshuffled ones are views of X and Y.
  Matrix<T> Xb, Yb;
  std::vector<std::int32_t> labels_b;
  if (gather) {
    Xb.resize(bs, d);
    if (Y.has_labels())
      labels_b.resize(std::size_t(bs));
    else
      Yb.resize(bs, k);
  }

  std::vector<T> history;
  for (Index epoch = 0; epoch < options.epochs; ++epoch) {
    if (gather) rng.shuffle(order.data(), std::uint64_t(m));
    double total = 0;
    for (Index start = 0; start < m; start += bs) {
      const Index nb = std::min(bs, m - start);
      T J;
      if (gather) {
        for (Index i = 0; i < nb; ++i) {
          const Index src = order[std::size_t(start + i)];
          Xb.row(i) = X.row(src);
          if (Y.has_labels())
            labels_b[std::size_t(i)] = Y.labels[src];
          else
            Yb.row(i) = ConstRowVectorMap<T>(Y.dense + src * k, k);
        }
        const auto Yt = Y.has_labels() ? Targets<T>::from_labels(labels_b.data(), nb, k)
                                       : Targets<T>::from_dense(Yb.data(), nb, k);
        J = net.gradients_unchecked(ConstMatrixMap<T>(Xb.data(), nb, d), Yt);
      } else {
        const auto Yt = Y.has_labels() ? Targets<T>::from_labels(Y.labels + start, nb, k)
                                       : Targets<T>::from_dense(Y.dense + start * k, nb, k);
        J = net.gradients_unchecked(X.middleRows(start, nb), Yt);
      }
      optimizer.step(net.params(), net.grads(), net.num_params());
      total += double(J) * double(nb);
    }
    const T epoch_loss = T(total / double(m));
    history.push_back(epoch_loss);
    if (callback && !callback(epoch, epoch_loss)) break;
    if (history.size() >= 2 && std::abs(double(history.end()[-1]) - double(history.end()[-2])) < options.tol) break;
  }
  return history;
}

template std::vector<float> fit<float>(Network<float>&, Optimizer<float>&, const ConstRef<float>&,
                                       const Targets<float>&, const FitOptions&, const EpochCallback<float>&);
template std::vector<double> fit<double>(Network<double>&, Optimizer<double>&, const ConstRef<double>&,
                                         const Targets<double>&, const FitOptions&, const EpochCallback<double>&);

}  // namespace fastmlp
