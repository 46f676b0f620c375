#include "fastmlp/trainer.hpp"
#include "fastmlp/names.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <utility>

#include "epoch_data.hpp"
#include "fastmlp/random.hpp"
#include "steps.hpp"

namespace fastmlp {

DivergenceError::DivergenceError(Index e, double loss)
    : std::runtime_error("training diverged in epoch " + std::to_string(e) + " (counted from 0): the loss became " +
                         std::to_string(loss) +
                         "; the weights were reset to the last ones with a finite loss (try a smaller learning "
                         "rate)"),
      epoch(e) {}

namespace {
constexpr Named<Metric> kMetrics[] = {{Metric::Loss, "loss"},
                                      {Metric::Accuracy, "accuracy"},
                                      {Metric::ValLoss, "val_loss"},
                                      {Metric::ValAccuracy, "val_accuracy"}};
}  // namespace

Metric metric_from_name(const std::string& name) { return from_name(kMetrics, name, "monitor"); }
const char* metric_name(Metric m) { return name_of(kMetrics, m); }

void validate_early_stopping(const EarlyStopping& e) {
  if (e.patience < 1)
    throw std::invalid_argument("early stopping patience must be >= 1, got " + std::to_string(e.patience));
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
    bool out_of_patience = false;
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
      } else {
        out_of_patience = ++wait_ >= es.patience;
      }
    }
    const auto& h = result.epochs;
    const bool converged = h.size() >= 2 && std::abs(h.end()[-1].loss - h.end()[-2].loss) < options_.tol;
    const bool stop = out_of_patience || !go_on || converged;
    if (stop) result.stopped_early = true;
    return stop;
  }

 private:
  const FitOptions& options_;
  double best_ = std::numeric_limits<double>::infinity();
  Index wait_ = 0;
};

// The collective itself: checked before any sum (these see the same values on every process).
template <class T>
void validate_collective(const Collective<T>* dp) {
  if (dp && (dp->size < 1 || dp->rank < 0 || dp->rank >= dp->size || !dp->sum || !dp->sum_doubles))
    throw std::invalid_argument("collective: rank must be in [0, size) and both sums given");
}

// The checks of fit(), once, before anything changes (a source's chunks are checked as they come; X's
// NaN / infinity check is left to the first epoch where check_x_in_training).
template <class T>
void validate_fit(Engine<T>& engine, const Optimizer<T>& optimizer, const FitArgs<T>& args,
                  bool check_x_in_training = false) {
  const FitOptions& options = args.options;
  const Validation<T>& validation = args.validation;
  const Collective<T>* dp = args.collective;
  validate_fit_options(options);
  if (dp) {
    if (dp->sharded && Index(dp->rows_per_rank.size()) != dp->size)
      throw std::invalid_argument("collective: rows_per_rank needs one entry per process");
    if (dp->size > 1 && engine.host().has_batch_norm())
      throw NotSupported(
          "batch normalization with data parallelism (comm=) would need the batch statistics "
          "synchronized across processes: not supported yet (LayerNormalization works)");
    if (dp->sharded && dp->size > 1 && options.batch_size && *options.batch_size % dp->size != 0)
      throw std::invalid_argument("sharded data parallelism: batch_size (" + std::to_string(*options.batch_size) +
                                  ") must be a multiple of the number of processes (" + std::to_string(dp->size) + ")");
  }
  if (optimizer.memory() != engine.memory())
    throw std::invalid_argument(std::string("the optimizer steps another engine's parameters; make it with "
                                            "make_optimizer() of this '") +
                                engine.name() + "' engine");
  const Network<T>& net = engine.host();
  if (!args.source) net.validate(args.X, args.Y, !check_x_in_training);
  const bool has_val = validation.X != nullptr || args.validation_source != nullptr;
  if (validation.X) net.validate(ConstMatrixMap<T>(validation.X, validation.rows, net.n_inputs()), validation.Y);
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

// The epoch loop proper (fit() wraps it with the engine's begin_fit / end_fit): each epoch sets
// the learning rate, passes over the pieces of the data (in memory: one) step by step, evaluates
// the validation data, logs, and asks the stop rules.
// restore_optimizer (not empty): X is checked in the first epoch's steps, and a NaN or infinity there
// rolls the fit back (the parameters and running statistics of the epoch's start, the optimizer's state)
// before the error goes up: a refused fit changes nothing.
template <class T>
FitResult train(Engine<T>& engine, Optimizer<T>& optimizer, const FitArgs<T>& args,
                const std::function<void()>& restore_optimizer) {
  using namespace detail;
  const FitOptions& options = args.options;
  const Network<T>& net = engine.host();
  const auto& es = options.early_stopping;
  const Collective<T>* dp = args.collective && args.collective->size > 1 ? args.collective : nullptr;
  const bool classifier = is_classification(net.loss());
  const bool uses_dropout = net.dropout_draws_per_row() > 0;

  Rng rng(options.seed);  // the batch order (shared data) and the dropout masks
  // Sharded: each process shuffles its own rows, with a generator of its own.
  Rng local_rng(options.seed + 0x9E3779B97F4A7C15ULL * std::uint64_t(dp ? dp->rank + 1 : 0));
  Rng& order_rng = dp && dp->sharded ? local_rng : rng;
  std::vector<Index> order;  // the epoch's order of a piece's rows
  LrScheduler scheduler(options.schedule, double(optimizer.learning_rate()));

  // The data: in memory, one piece (begin_fit put it in the engine); or the chunks of a source.
  std::unique_ptr<Pieces<T>> data;
  if (args.source)
    data = std::make_unique<ChunkPieces<T>>(*args.source, engine, dp);
  else
    data = std::make_unique<MemoryPieces<T>>(Piece<T>{args.X.rows(), args.Y.weights, dp});
  EvaluateValidation evaluate_validation;  // empty: no validation data
  if (args.validation_source)
    evaluate_validation = chunk_validation(engine, *args.validation_source);
  else if (args.validation.X)
    evaluate_validation = memory_validation(engine, args.validation.rows, dp, classifier);
  const StepParts<T> parts{engine, optimizer, rng, uses_dropout};
  std::unique_ptr<Step<T>> step;
  if (dp)
    step = std::make_unique<DataParallelStep<T>>(parts, *dp);
  else
    step = std::make_unique<LocalStep<T>>(parts);

  // Weights to fall back on: this epoch's and the previous epoch's start (copies `now` and
  // 1 - now, alternating), and early stopping's best (copy 2).
  constexpr int kBest = 2;
  int now = 0;
  if (es.enabled && es.restore_best) engine.save_params(kBest);
  FitResult result;
  StopRules rules(options);
  ProgressTicker progress(args.progress);
  for (Index epoch = 0; epoch < options.epochs; ++epoch) {
    EpochLogs logs;
    logs.epoch = epoch;
    logs.lr = scheduler.lr(options.epoch_offset + epoch);
    // A decayed rate may underflow T (float32 below 1e-38): keep the smallest normal number instead of 0.
    optimizer.set_learning_rate(std::max(T(logs.lr), std::numeric_limits<T>::min()));
    if (options.record_grad_norms) logs.grad_norms.assign(std::size_t(net.num_layers()), 0.0);
    step->start_epoch(options.record_grad_norms ? logs.grad_norms.data() : nullptr,
                      epoch == 0 && restore_optimizer != nullptr);
    now = int(epoch % 2);
    engine.save_params(now);

    EpochPass<T> pass(engine, optimizer, *step, epoch, now, progress, args.source == nullptr);
    data->start_epoch(options.epoch_offset + epoch);
    bool completed = true;
    try {
      for (Piece<T> piece; completed && data->next(piece);) completed = pass.run(piece, options, order_rng, order);
    } catch (const InputNotFinite&) {  // thrown in epoch 0 only (restore_optimizer given)
      engine.restore_params(now);
      restore_optimizer();
      throw;
    }
    if (!completed) {
      result.interrupted = true;
      return result;
    }
    logs.loss = pass.loss();
    if (classifier && pass.rows_seen() > 0) logs.accuracy = double(pass.correct()) / double(pass.rows_seen());
    for (auto& g : logs.grad_norms) g /= double(std::max<Index>(pass.batches_done(), 1));
    if (evaluate_validation) validate_epoch(evaluate_validation, dp, classifier, logs);
    result.epochs.push_back(logs);
    scheduler.end_epoch(options.schedule.monitor_validation ? logs.val_loss : logs.loss);

    // The callback sees every epoch, the last one too, whatever stops training.
    bool go_on = true;
    std::exception_ptr failed = progress.take_failure();  // the progress hook's, mid-epoch
    if (failed && !dp) std::rethrow_exception(failed);
    try {
      if (!failed) go_on = !args.callback || args.callback(logs);
    } catch (...) {
      if (!dp) throw;
      failed = std::current_exception();  // every process learns it at the sum below
    }
    if (dp) {  // one process stopping stops all; one process failing fails all
      std::vector<double> v(std::size_t(1 + dp->size), 0.0);
      v[0] = go_on ? 0.0 : 1.0;
      v[std::size_t(1 + dp->rank)] = failed ? 1.0 : 0.0;
      dp->sum_doubles(v.data(), Index(v.size()));
      throw_if_any_failed(*dp, v.data() + 1, failed, "run its epoch callback (or progress hook)");
      go_on = v[0] == 0;
    }
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
FitResult fit(Engine<T>& engine, Optimizer<T>& optimizer, const FitArgs<T>& args) {
  const Collective<T>* dp = args.collective;
  validate_collective(dp);
  // X's NaN / infinity check, where the first layer makes it for free as it converts X (a mixed bf16 Dense,
  // Network::checks_in_training) and the fit can be rolled back: in the first epoch's steps, instead of a
  // pass over X of its own here (one epoch's fit 1.04x faster on a Zen 5 core, bench/RESULTS_BF16.md).
  std::function<void()> restore_optimizer;
  if (!dp && !args.source && std::string(engine.name()) == "cpu" &&
      engine.host().checks_in_training(std::min(args.options.batch_size.value_or(args.X.rows()), Index(args.X.rows()))))
    restore_optimizer = optimizer.saved();
  if (!dp) {
    validate_fit(engine, optimizer, args, restore_optimizer != nullptr);  // once: the loop runs unchecked
    engine.begin_fit(args.X, args.Y, args.validation);
  } else {
    // Each process checks its own data (a NaN may be in one process's rows only): they agree on
    // the outcome before any step, so a process that fails here never leaves the others in a sum.
    std::exception_ptr failed;
    bool began = false;
    try {
      validate_fit(engine, optimizer, args);
      engine.begin_fit(args.X, args.Y, args.validation);
      began = true;
    } catch (...) {
      failed = std::current_exception();
    }
    std::vector<double> flags(std::size_t(dp->size), 0.0);
    flags[std::size_t(dp->rank)] = failed ? 1.0 : 0.0;
    dp->sum_doubles(flags.data(), Index(flags.size()));
    const auto first = std::find_if(flags.begin(), flags.end(), [](double f) { return f > 0; });
    if (first != flags.end() && began) engine.end_fit();
    if (failed) std::rethrow_exception(failed);
    if (first != flags.end())
      throw std::invalid_argument("data-parallel fit: rank " + std::to_string(first - flags.begin()) +
                                  " rejected its data or options (its own error says why)");
  }
  FitResult result;
  try {
    result = train(engine, optimizer, args, restore_optimizer);
  } catch (...) {
    engine.end_fit();  // the host network gets the weights the loop left (restored ones after a divergence)
    throw;
  }
  engine.end_fit();
  return result;
}

template <class T>
FitResult fit(Network<T>& net, Optimizer<T>& optimizer, const FitArgs<T>& args) {
  CpuEngine<T> engine(net);
  return fit<T>(engine, optimizer, args);
}

#define FASTMLP_FIT(T)                                                     \
  template FitResult fit<T>(Engine<T>&, Optimizer<T>&, const FitArgs<T>&); \
  template FitResult fit<T>(Network<T>&, Optimizer<T>&, const FitArgs<T>&);
FASTMLP_FIT(float)
FASTMLP_FIT(double)
#undef FASTMLP_FIT

}  // namespace fastmlp
