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

Metric metric_from_name(const std::string& name) {
  if (name == "loss") return Metric::Loss;
  if (name == "accuracy") return Metric::Accuracy;
  if (name == "val_loss") return Metric::ValLoss;
  if (name == "val_accuracy") return Metric::ValAccuracy;
  throw std::invalid_argument("monitor must be 'loss', 'accuracy', 'val_loss' or 'val_accuracy', got '" + name + "'");
}

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::Loss: return "loss";
    case Metric::Accuracy: return "accuracy";
    case Metric::ValLoss: return "val_loss";
    case Metric::ValAccuracy: return "val_accuracy";
  }
  return "?";
}

void validate_early_stopping(const EarlyStopping& e) {
  if (e.patience < 1) throw std::invalid_argument("early stopping patience must be >= 1, got " + std::to_string(e.patience));
  if (!(e.min_delta >= 0.0) || !std::isfinite(e.min_delta))
    throw std::invalid_argument("early stopping min_delta must be a finite number >= 0");
}

void validate_fit_options(const FitOptions& o) {
  if (o.epochs < 1 || o.epochs > kMaxEpochs)
    throw std::invalid_argument("epochs must be in [1, 2^62], got " + std::to_string(o.epochs));
  if (o.batch_size && *o.batch_size < 1)
    throw std::invalid_argument("batch_size must be >= 1 (or none: the whole data set), got " +
                                std::to_string(*o.batch_size));
  if (!(o.tol >= 0.0)) throw std::invalid_argument("tol must be >= 0, got " + std::to_string(o.tol));
  if (o.epoch_offset < 0 || o.epoch_offset > kMaxEpochs)
    throw std::invalid_argument("epoch_offset (epochs trained) must be in [0, 2^62], got " +
                                std::to_string(o.epoch_offset));
  if (o.early_stopping.enabled) validate_early_stopping(o.early_stopping);
  validate_schedule(o.schedule);
}

namespace {

// The rules that end training after an epoch: early stopping, the callback, tol.
class StopRules {
 public:
  explicit StopRules(const FitOptions& options) : options_(options) {}
  // Call once per epoch after result.epochs got `logs` and the callback ran (`go_on`
  // is its answer). Returns true when training must stop; `improved` says that early
  // stopping saw a new best epoch (time to keep the weights).
  bool end_epoch(const EpochLogs& logs, bool go_on, FitResult& result, bool& improved) {
    improved = false;
    const auto& es = options_.early_stopping;
    if (es.enabled) {
      const double value = es.monitor == Metric::Loss       ? logs.loss
                           : es.monitor == Metric::Accuracy ? logs.accuracy
                           : es.monitor == Metric::ValLoss  ? logs.val_loss
                                                            : logs.val_accuracy;
      const double monitored = es.maximize ? -value : value;
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

 private:
  const FitOptions& options_;
  double best_ = std::numeric_limits<double>::infinity();
  Index wait_ = 0;
};

// The data checks of fit(), once, before anything changes.
template <class T>
void validate_fit(Engine<T>& engine, const Optimizer<T>& optimizer, const ConstRef<T>& X, const Targets<T>& Y, const FitOptions& options,
                  const Validation<T>& validation) {
  validate_fit_options(options);
  if (optimizer.memory() != engine.memory())
    throw std::invalid_argument(std::string("the optimizer steps another engine's parameters; make it with "
                                            "make_optimizer() of this '") + engine.name() + "' engine");
  const Network<T>& net = engine.host();
  net.validate(X, Y);
  const bool has_val = validation.X != nullptr;
  if (has_val) net.validate(ConstMatrixMap<T>(validation.X, validation.rows, net.n_inputs()), validation.Y);
  const Metric watched = options.early_stopping.monitor;
  if (options.early_stopping.enabled && (watched == Metric::ValLoss || watched == Metric::ValAccuracy) && !has_val)
    throw std::invalid_argument(std::string("early stopping on ") + metric_name(watched) + " needs validation data");
  if (options.early_stopping.enabled && (watched == Metric::Accuracy || watched == Metric::ValAccuracy) &&
      !is_classification(net.loss()))
    throw std::invalid_argument(std::string("early stopping on ") + metric_name(watched) +
                                " needs a classification loss");
  if (options.schedule.kind == ScheduleKind::ReduceOnPlateau && options.schedule.monitor_validation && !has_val)
    throw std::invalid_argument("reduce_on_plateau on val_loss needs validation data");
  if (options.record_grad_norms && !engine.add_grad_norms(nullptr))
    throw NotSupported(std::string("fit(record_gradients=True) is not supported on device='") + engine.name() +
                       "' yet");
}

// The epoch loop proper (fit() wraps it with the engine's begin_fit / end_fit).
template <class T>
FitResult train(Engine<T>& engine, Optimizer<T>& optimizer, const ConstRef<T>& X, const Targets<T>& Y,
                const FitOptions& options, const Validation<T>& validation, const EpochCallback& callback) {
  const Network<T>& net = engine.host();
  const auto& es = options.early_stopping;
  const bool has_val = validation.X != nullptr;
  const Index m = X.rows(), L = net.num_layers();
  const Index bs = options.batch_size ? std::min(*options.batch_size, m) : m;
  const Index n_batches = (m + bs - 1) / bs;
  const bool shuffled = options.shuffle && bs < m;  // a full batch needs no shuffling: the gradient is the same
  const bool classifier = is_classification(net.loss());
  bool uses_dropout = false;
  for (const auto& s : net.layers()) uses_dropout = uses_dropout || s.dropout > 0.0;

  std::vector<Index> order(static_cast<std::size_t>(m));
  std::iota(order.begin(), order.end(), Index(0));
  Rng rng(options.seed);
  LrScheduler scheduler(options.schedule, double(optimizer.learning_rate()));
  std::vector<T> losses(static_cast<std::size_t>(n_batches));
  engine.reserve_losses(n_batches);
  // Weights to fall back on: this epoch's and the previous epoch's start (copies `now` and
  // 1 - now, alternating), and early stopping's best (copy 2).
  constexpr int kBest = 2;
  int now = 0;
  if (es.enabled && es.restore_best) engine.save_params(kBest);

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
    const T fused = options.record_grad_norms || optimizer.clips() ? T(0) : optimizer.plain_sgd_rate();
    now = int(epoch % 2);
    engine.save_params(now);
    if (shuffled) rng.shuffle(order.data(), std::uint64_t(m));
    engine.set_order(shuffled ? order.data() : nullptr);

    // Batch losses are checked as soon as the engine can tell them (the CPU: after each
    // step; the CUDA device: at the end of the epoch); `checked` batches are done.
    double total = 0, counted = 0;  // the epoch loss is the (weighted) mean over its samples
    Index correct = 0, checked = 0;
    auto check_losses = [&](Index done) {
      if (checked == done) return;
      Index c = 0;
      engine.read_losses(checked, done, losses.data(), &c);
      correct += c;
      for (; checked < done; ++checked) {
        const T J = losses[std::size_t(checked)];
        if (!std::isfinite(double(J))) {
          // J is measured before the step, so the first batch of an epoch blames the previous
          // epoch's last step: go back to where that epoch started.
          engine.restore_params(checked == 0 && epoch > 0 ? 1 - now : now);
          optimizer.reset();
          throw DivergenceError(epoch, double(J));
        }
        // A batch counts by its samples, or by its total weight with sample weights.
        const Index start = checked * bs, nb = std::min(bs, m - start);
        double share = double(nb);
        if (Y.weights) {
          share = 0;
          for (Index r = start; r < start + nb; ++r) share += double(Y.weights[shuffled ? order[std::size_t(r)] : r]);
        }
        total += double(J) * share;
        counted += share;
      }
    };

    Index j = 0;
    for (Index start = 0; start < m; start += bs, ++j) {
      if (options.stop && options.stop->load(std::memory_order_relaxed)) {
        check_losses(j);  // a divergence before the Ctrl-C still counts as one
        result.interrupted = true;
        return result;
      }
      engine.bring_batch(start, std::min(bs, m - start));
      engine.forward(uses_dropout ? &rng : nullptr);
      engine.output_error(j);
      engine.backprop(fused);
      if (options.record_grad_norms) engine.add_grad_norms(logs.grad_norms.data());
      if (fused == T(0)) {
        if (optimizer.clips()) optimizer.clip(engine.grads(), net.num_params());  // by value, then global norm
        optimizer.step(engine.params(), engine.grads(), net.num_params());
      }
      if (engine.losses_at_once()) check_losses(j + 1);
    }
    check_losses(n_batches);
    logs.loss = counted > 0 ? total / counted : 0.0;
    if (classifier) logs.accuracy = double(correct) / double(m);
    for (auto& g : logs.grad_norms) g /= double(n_batches);
    if (has_val) {
      Index val_correct = 0;
      logs.val_loss = double(engine.evaluate_validation(classifier ? &val_correct : nullptr));
      if (classifier) logs.val_accuracy = double(val_correct) / double(validation.rows);
    }
    result.epochs.push_back(logs);
    scheduler.end_epoch(options.schedule.monitor_validation ? logs.val_loss : logs.loss);

    // The callback sees every epoch, the last one too, whatever stops training.
    const bool go_on = !callback || callback(logs);
    bool improved = false;
    const bool stop = rules.end_epoch(logs, go_on, result, improved);
    if (improved && es.restore_best) engine.save_params(kBest);
    if (stop) break;
  }
  // J is measured before each step, so the very last step could still leave non-finite weights.
  if (!engine.params_finite()) {
    engine.restore_params(now);
    optimizer.reset();
    throw DivergenceError(result.epochs.empty() ? 0 : result.epochs.back().epoch, kNaN);
  }
  // Early stopping hands back the best epoch's weights, however training ended.
  if (es.enabled && es.restore_best && result.best_epoch >= 0) engine.restore_params(kBest);
  return result;
}

}  // namespace

template <class T>
FitResult fit(Engine<T>& engine, Optimizer<T>& optimizer, const ConstRef<T>& X, const Targets<T>& Y,
              const FitOptions& options, const Validation<T>& validation, const EpochCallback& callback) {
  validate_fit(engine, optimizer, X, Y, options, validation);  // once: the loop runs unchecked
  engine.begin_fit(X, Y, validation);
  FitResult result;
  try {
    result = train(engine, optimizer, X, Y, options, validation, callback);
  } catch (...) {
    engine.end_fit();  // the host network gets the weights the loop left (restored ones after a divergence)
    throw;
  }
  engine.end_fit();
  return result;
}

template <class T>
FitResult fit(Network<T>& net, Optimizer<T>& optimizer, const ConstRef<T>& X, const Targets<T>& Y,
              const FitOptions& options, const Validation<T>& validation, const EpochCallback& callback) {
  CpuEngine<T> engine(net);
  return fit<T>(engine, optimizer, X, Y, options, validation, callback);
}

#define FASTMLP_FIT(T)                                                                                           \
  template FitResult fit<T>(Engine<T>&, Optimizer<T>&, const ConstRef<T>&, const Targets<T>&, const FitOptions&, \
                            const Validation<T>&, const EpochCallback&);                                         \
  template FitResult fit<T>(Network<T>&, Optimizer<T>&, const ConstRef<T>&, const Targets<T>&, const FitOptions&, \
                            const Validation<T>&, const EpochCallback&);
FASTMLP_FIT(float)
FASTMLP_FIT(double)
#undef FASTMLP_FIT

}  // namespace fastmlp
