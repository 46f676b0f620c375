#include "fastmlp/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "fastmlp/random.hpp"

namespace fastmlp {

DivergenceError::DivergenceError(Index e, double loss)
    : std::runtime_error("training diverged in epoch " + std::to_string(e) + " (counted from 0): the loss became " +
                         std::to_string(loss) +
                         "; the weights were reset to the last ones with a finite loss (try a smaller learning "
                         "rate)"),
      epoch(e) {}

namespace {

// Copies rows `order[start, start + nb)` of X and Y into the batch buffers.
template <class T>
struct BatchGather {
  Matrix<T> X, Y;
  std::vector<std::int32_t> labels;
  Vector<T> w;

  BatchGather(Index bs, Index d, const Targets<T>& src) {
    X.resize(bs, d);
    if (src.has_labels())
      labels.resize(std::size_t(bs));
    else
      Y.resize(bs, src.cols);
    if (src.weights) w.resize(bs);
  }

  Targets<T> gather(const ConstRef<T>& Xs, const Targets<T>& Ys, const Index* order, Index nb) {
    const Index k = Ys.cols;
    for (Index i = 0; i < nb; ++i) {
      const Index r = order[i];
      X.row(i) = Xs.row(r);
      if (Ys.has_labels())
        labels[std::size_t(i)] = Ys.labels[r];
      else
        Y.row(i) = ConstRowVectorMap<T>(Ys.dense + r * k, k);
      if (Ys.weights) w[i] = Ys.weights[r];
    }
    const T* wp = Ys.weights ? w.data() : nullptr;
    return Ys.has_labels() ? Targets<T>::from_labels(labels.data(), nb, k, wp)
                           : Targets<T>::from_dense(Y.data(), nb, k, wp);
  }
};

template <class T>
Targets<T> slice(const Targets<T>& Y, Index start, Index nb) {
  const T* w = Y.weights ? Y.weights + start : nullptr;
  return Y.has_labels() ? Targets<T>::from_labels(Y.labels + start, nb, Y.cols, w)
                        : Targets<T>::from_dense(Y.dense + start * Y.cols, nb, Y.cols, w);
}

}  // namespace

void validate_fit_options(const FitOptions& o) {
  if (o.epochs < 1) throw std::invalid_argument("epochs must be >= 1, got " + std::to_string(o.epochs));
  if (o.batch_size < 0) throw std::invalid_argument("batch_size must be > 0, got " + std::to_string(o.batch_size));
  if (!(o.tol >= 0.0)) throw std::invalid_argument("tol must be >= 0, got " + std::to_string(o.tol));
  if (o.early_stopping.enabled && o.early_stopping.patience < 1)
    throw std::invalid_argument("early stopping patience must be >= 1");
  if (o.early_stopping.enabled && !(o.early_stopping.min_delta >= 0.0))
    throw std::invalid_argument("early stopping min_delta must be >= 0");
  validate_schedule(o.schedule);
}

bool StopRules::end_epoch(const EpochLogs& logs, bool go_on, FitResult& result, bool& improved) {
  improved = false;
  const auto& es = options_.early_stopping;
  if (es.enabled) {
    const double monitored = es.monitor_validation ? logs.val_loss : logs.loss;
    if (monitored < best_ - es.min_delta) {
      best_ = monitored;
      result.best_epoch = logs.epoch;
      wait_ = 0;
      improved = true;
    } else if (++wait_ >= es.patience) {
      result.stopped_early = true;
      return true;
    }
  }
  if (!go_on) {
    result.stopped_early = true;
    return true;
  }
  const auto& h = result.epochs;
  if (h.size() >= 2 && std::abs(h.end()[-1].loss - h.end()[-2].loss) < options_.tol) {
    result.stopped_early = true;
    return true;
  }
  return false;
}

template <class T>
FitResult fit(Network<T>& net, Optimizer<T>& optimizer, const ConstRef<T>& X, const Targets<T>& Y,
              const FitOptions& options, const Validation<T>& validation, const EpochCallback& callback) {
  validate_fit_options(options);
  net.validate(X, Y);  // once: the loop below runs unchecked
  const bool has_val = validation.X != nullptr;
  const auto Xv = ConstMatrixMap<T>(validation.X, has_val ? validation.rows : 0, net.n_inputs());
  if (has_val) net.validate(Xv, validation.Y);
  const auto& es = options.early_stopping;
  if (es.enabled && es.monitor_validation && !has_val)
    throw std::invalid_argument("early stopping on val_loss needs validation data");
  if (options.schedule.kind == ScheduleKind::ReduceOnPlateau && options.schedule.monitor_validation && !has_val)
    throw std::invalid_argument("reduce_on_plateau on val_loss needs validation data");

  const Index m = X.rows(), d = X.cols(), L = net.num_layers(), P = net.num_params();
  const Index bs = options.batch_size == 0 ? m : std::min(options.batch_size, m);
  const bool gather = options.shuffle && bs < m;  // a full batch needs no shuffling: the gradient is the same
  const bool classifier = net.loss() != Loss::MeanSquaredError;
  bool uses_dropout = false;
  for (const auto& s : net.layers()) uses_dropout = uses_dropout || s.dropout > 0.0;

  std::vector<Index> order(static_cast<std::size_t>(m));
  std::iota(order.begin(), order.end(), Index(0));
  Rng rng(options.seed);
  BatchGather<T> batch(gather ? bs : 0, d, Y);
  LrScheduler scheduler(options.schedule, double(optimizer.learning_rate()));
  // Weights to fall back on: this epoch's and the previous epoch's start, and early stopping's best.
  Vector<T> epoch_start(P), previous_start(P), best;
  if (es.enabled && es.restore_best) best = Eigen::Map<const Vector<T>>(net.params(), P);

  FitResult result;
  StopRules rules(options);
  for (Index epoch = 0; epoch < options.epochs; ++epoch) {
    EpochLogs logs;
    logs.epoch = epoch;
    logs.lr = scheduler.lr(options.epoch_offset + epoch);
    // A decayed rate may underflow T (float32 below 1e-38): keep the smallest normal number instead of 0.
    optimizer.set_learning_rate(std::max(T(logs.lr), std::numeric_limits<T>::min()));
    if (options.record_grad_norms) logs.grad_norms.assign(std::size_t(L), 0.0);
    // Plain SGD is applied inside backprop (no gradient buffer) unless gradients are recorded.
    const T fused = options.record_grad_norms ? T(0) : optimizer.plain_sgd_rate();
    epoch_start.swap(previous_start);
    epoch_start = Eigen::Map<const Vector<T>>(net.params(), P);
    if (gather) rng.shuffle(order.data(), std::uint64_t(m));

    double total = 0, counted = 0;  // the epoch loss is the (weighted) mean over its samples
    Index correct = 0, batches = 0;
    for (Index start = 0; start < m; start += bs) {
      if (options.stop && options.stop->load(std::memory_order_relaxed)) {
        result.interrupted = true;
        return result;
      }
      const Index nb = std::min(bs, m - start);
      const Targets<T> Yb = gather ? batch.gather(X, Y, order.data() + start, nb) : slice(Y, start, nb);
      Rng* dropout = uses_dropout ? &rng : nullptr;
      const T J = gather ? net.gradients_unchecked(ConstMatrixMap<T>(batch.X.data(), nb, d), Yb, dropout, fused)
                         : net.gradients_unchecked(X.middleRows(start, nb), Yb, dropout, fused);
      if (!std::isfinite(double(J))) {
        // J is measured before the step, so the first batch of an epoch blames the previous
        // epoch's last step: go back to where that epoch started.
        Eigen::Map<Vector<T>>(net.params(), P) = (batches == 0 && epoch > 0) ? previous_start : epoch_start;
        optimizer.reset();
        throw DivergenceError(epoch, double(J));
      }
      if (classifier) correct += count_correct<T>(net.loss(), net.output(nb), Yb);
      if (options.record_grad_norms)
        for (Index l = 0; l < L; ++l) logs.grad_norms[std::size_t(l)] += double(net.dW(l).norm());
      if (fused == T(0)) optimizer.step(net.params(), net.grads(), P);
      // A batch counts by its samples, or by its total weight with sample weights.
      const double share = Yb.weights ? double(Eigen::Map<const Vector<T>>(Yb.weights, nb).sum()) : double(nb);
      total += double(J) * share;
      counted += share;
      ++batches;
    }
    logs.loss = counted > 0 ? total / counted : 0.0;
    if (classifier) logs.accuracy = double(correct) / double(m);
    for (auto& g : logs.grad_norms) g /= double(batches);
    if (has_val) {
      Index val_correct = 0;
      logs.val_loss = double(net.evaluate_unchecked(Xv, validation.Y, classifier ? &val_correct : nullptr));
      if (classifier) logs.val_accuracy = double(val_correct) / double(validation.rows);
    }
    result.epochs.push_back(logs);
    scheduler.end_epoch(options.schedule.monitor_validation ? logs.val_loss : logs.loss);

    // The callback sees every epoch, the last one too, whatever stops training.
    const bool go_on = !callback || callback(logs);
    bool improved = false;
    const bool stop = rules.end_epoch(logs, go_on, result, improved);
    if (improved && es.restore_best) best = Eigen::Map<const Vector<T>>(net.params(), P);
    if (stop) break;
  }
  // J is measured before each step, so the very last step could still leave non-finite weights.
  if (!all_finite(Eigen::Map<const Vector<T>>(net.params(), P))) {
    Eigen::Map<Vector<T>>(net.params(), P) = epoch_start;
    optimizer.reset();
    throw DivergenceError(result.epochs.empty() ? 0 : result.epochs.back().epoch, kNaN);
  }
  // Early stopping hands back the best epoch's weights, however training ended.
  if (es.enabled && es.restore_best && result.best_epoch >= 0) Eigen::Map<Vector<T>>(net.params(), P) = best;
  return result;
}

template FitResult fit<float>(Network<float>&, Optimizer<float>&, const ConstRef<float>&, const Targets<float>&,
                              const FitOptions&, const Validation<float>&, const EpochCallback&);
template FitResult fit<double>(Network<double>&, Optimizer<double>&, const ConstRef<double>&, const Targets<double>&,
                               const FitOptions&, const Validation<double>&, const EpochCallback&);

}  // namespace fastmlp
