#include "fastmlp/trainer.hpp"
#include "fastmlp/names.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <numeric>
#include <string>
#include <utility>

#include "fastmlp/random.hpp"

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

// The data checks of fit(), once, before anything changes.
template <class T>
void validate_fit(Engine<T>& engine, const Optimizer<T>& optimizer, const ConstRef<T>& X, const Targets<T>& Y,
                  const FitOptions& options, const Validation<T>& validation, const Collective<T>* dp,
                  bool chunked = false, bool chunked_validation = false) {
  validate_fit_options(options);
  if (dp) {  // every check here sees the same values on every process: they all fail alike
    if (dp->size < 1 || dp->rank < 0 || dp->rank >= dp->size || !dp->sum || !dp->sum_doubles)
      throw std::invalid_argument("collective: rank must be in [0, size) and both sums given");
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
  if (!chunked) net.validate(X, Y);
  const bool has_val = validation.X != nullptr || chunked_validation;
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

// Which rows one step computes: `rows` rows from position `start` of this process's epoch
// order, with `before` / `after` rows of the global batch held by other processes.
struct Slice {
  Index start = 0, rows = 0, before = 0, after = 0;
};

// The near-equal share of `n` rows that process `rank` of `size` takes: offset and count.
inline Slice share_of(Index n, int rank, int size) {
  const Index base = n / size, extra = n % size;
  const Index off = rank * base + std::min<Index>(rank, extra), rows = base + (rank < extra ? 1 : 0);
  return {off, rows, off, n - off - rows};
}

// The batches of an epoch: batch j is rows [j bs, j bs + nb) of the epoch's order (one process
// or shared data; this process takes its share of them), or (sharded) every process's next
// bs / size rows.
template <class T>
struct BatchPlan {
  Index m = 0, bs = 0, n_batches = 0, global_rows = 0;
  const Collective<T>* dp = nullptr;  // null: one process

  BatchPlan(Index local_rows, const std::optional<Index>& batch_size, const Collective<T>* collective)
      : m(local_rows), dp(collective && collective->size > 1 ? collective : nullptr) {
    if (dp && dp->sharded) {
      Index most = 0;
      global_rows = 0;
      for (Index r : dp->rows_per_rank) most = std::max(most, r), global_rows += r;
      bs = batch_size ? *batch_size / dp->size : most;
      n_batches = (most + bs - 1) / bs;
    } else {
      global_rows = m;
      bs = batch_size ? std::min(*batch_size, m) : m;
      n_batches = (m + bs - 1) / bs;
    }
  }
  Slice slice(Index j) const {
    if (!dp) return {j * bs, std::min(bs, m - j * bs), 0, 0};
    if (!dp->sharded) {
      Slice s = share_of(std::min(bs, m - j * bs), dp->rank, dp->size);
      s.start += j * bs;
      return s;
    }
    Slice s{j * bs, 0, 0, 0};
    for (int r = 0; r < dp->size; ++r) {
      const Index n = std::clamp(dp->rows_per_rank[std::size_t(r)] - j * bs, Index(0), bs);
      (r < dp->rank ? s.before : r == dp->rank ? s.rows : s.after) += n;
    }
    return s;
  }
};

// The epoch loop proper (fit() wraps it with the engine's begin_fit / end_fit). An epoch runs
// over the in-memory data, or over each chunk of `source` in turn (run_piece: the batches of one).
template <class T>
FitResult train(Engine<T>& engine, Optimizer<T>& optimizer, const ConstRef<T>& X, const Targets<T>& Y,
                const FitOptions& options, const Validation<T>& validation, const EpochCallback& callback,
                const Collective<T>* collective, ChunkSource<T>* source, ChunkSource<T>* val_source) {
  const Network<T>& net = engine.host();
  const auto& es = options.early_stopping;
  const bool has_val = validation.X != nullptr || val_source != nullptr;
  const Index L = net.num_layers(), P = net.num_params();
  const Collective<T>* dp = collective && collective->size > 1 ? collective : nullptr;
  const bool classifier = is_classification(net.loss());
  bool uses_dropout = false;
  for (const auto& s : net.layers()) uses_dropout = uses_dropout || s.dropout > 0.0;

  std::vector<Index> order;
  Rng rng(options.seed);  // the batch order (shared data) and the dropout masks
  // Sharded: each process shuffles its own rows, with a generator of its own.
  Rng local_rng(options.seed + 0x9E3779B97F4A7C15ULL * std::uint64_t(dp ? dp->rank + 1 : 0));
  Rng& order_rng = dp && dp->sharded ? local_rng : rng;
  LrScheduler scheduler(options.schedule, double(optimizer.learning_rate()));
  std::vector<T> losses;
  std::vector<double> shares;  // each batch's weight in the epoch loss
  // Weights to fall back on: this epoch's and the previous epoch's start (copies `now` and
  // 1 - now, alternating), and early stopping's best (copy 2).
  constexpr int kBest = 2;
  int now = 0;
  if (es.enabled && es.restore_best) engine.save_params(kBest);

  // Data parallelism: sums `values` over the processes (every process gets the same sums).
  auto sum_over_processes = [&](std::initializer_list<double> values) {
    std::vector<double> v(values);
    dp->sum_doubles(v.data(), Index(v.size()));
    return v;
  };

  // Data parallelism: flags[r] > 0 where process r failed (`what` it could not do); every process
  // then throws, its own error or one naming the first rank that failed, so none waits in a sum.
  auto throw_if_any_failed = [&](const double* flags, const std::exception_ptr& mine, const std::string& what) {
    if (mine) std::rethrow_exception(mine);
    for (int r = 0; r < dp->size; ++r)
      if (flags[r] > 0) throw std::runtime_error("data-parallel fit: rank " + std::to_string(r) + " could not " + what);
  };

  FitResult result;
  StopRules rules(options);
  for (Index epoch = 0; epoch < options.epochs; ++epoch) {
    EpochLogs logs;
    logs.epoch = epoch;
    logs.lr = scheduler.lr(options.epoch_offset + epoch);
    // A decayed rate may underflow T (float32 below 1e-38): keep the smallest normal number instead of 0.
    optimizer.set_learning_rate(std::max(T(logs.lr), std::numeric_limits<T>::min()));
    if (options.record_grad_norms) logs.grad_norms.assign(std::size_t(L), 0.0);
    // Plain SGD is applied inside backprop (no gradient buffer) unless gradients are recorded, clipped or summed.
    const T fused = options.record_grad_norms || optimizer.clips() || dp ? T(0) : optimizer.plain_sgd_rate();
    now = int(epoch % 2);
    engine.save_params(now);
    double total = 0, counted = 0;  // the epoch loss is the (weighted) mean over its samples
    Index correct = 0, rows_seen = 0, batches_done = 0;

    // One piece of the epoch's data (all of it, or one chunk): its batches. False: interrupted.
    // `split` says how the processes hold it (rows_per_rank: of this piece).
    auto run_piece = [&](const ConstRef<T>& Xp, const Targets<T>& Yp, const Collective<T>* split) -> bool {
      const BatchPlan<T> plan(Xp.rows(), options.batch_size, split);
      const Index m = plan.m, n_batches = plan.n_batches;
      const bool shuffled = options.shuffle && n_batches > 1;  // a full batch needs no shuffling: the same gradient
      order.resize(std::size_t(m));
      std::iota(order.begin(), order.end(), Index(0));
      if (shuffled) order_rng.shuffle(order.data(), std::uint64_t(m));
      engine.set_order(shuffled ? order.data() : nullptr);
      losses.assign(std::size_t(n_batches), T(0));
      shares.assign(std::size_t(n_batches), 0.0);
      engine.reserve_losses(n_batches);
      // The weight of rows order[start, start + rows): their sample weights, or their count.
      auto weight_of = [&](Index start, Index rows) {
        if (!Yp.weights) return double(rows);
        double w = 0;
        for (Index r = start; r < start + rows; ++r) w += double(Yp.weights[shuffled ? order[std::size_t(r)] : r]);
        return w;
      };
      // Batch losses are checked as soon as the engine can tell them (the CPU: after each
      // step; the CUDA device: at the end of the piece); `checked` batches are done.
      Index checked = 0;
      auto check_losses = [&](Index done) {
        if (checked == done) return;
        if (!dp) {
          Index c = 0;
          engine.read_losses(checked, done, losses.data(), &c);
          correct += c;
        }
        for (; checked < done; ++checked) {
          const T J = losses[std::size_t(checked)];
          if (!std::isfinite(double(J))) {
            // J is measured before the step, so the first batch of an epoch blames the previous
            // epoch's last step: go back to where that epoch started.
            engine.restore_params(batches_done + checked == 0 && epoch > 0 ? 1 - now : now);
            optimizer.reset();
            throw DivergenceError(epoch, double(J));
          }
          // A batch counts by its samples, or by its total weight with sample weights.
          const double share =
              dp ? shares[std::size_t(checked)] : weight_of(checked * plan.bs, plan.slice(checked).rows);
          total += double(J) * share;
          counted += share;
        }
      };

      for (Index j = 0; j < n_batches; ++j) {
        const bool stop = options.stop && options.stop->load(std::memory_order_relaxed);
        const Slice s = plan.slice(j);
        if (!dp) {
          if (stop) {
            check_losses(j);  // a divergence before the Ctrl-C still counts as one
            return false;
          }
          engine.bring_batch(s.start, s.rows);
          engine.forward({uses_dropout ? &rng : nullptr, 0, 0, NormMode::Train});
          engine.output_error(j);
          engine.backprop(fused);
          if (options.record_grad_norms) engine.add_grad_norms(logs.grad_norms.data());
          if (fused == T(0)) {
            if (optimizer.clips()) optimizer.clip(engine.grads(), P);  // by value, then global norm
            optimizer.step(engine.params(), engine.grads(), P);
          }
          if (engine.losses_at_once()) check_losses(j + 1);
          continue;
        }
        // One step of data parallelism: this process's rows of the global batch, then the sums.
        const bool have = s.rows > 0;
        T J_r = 0;
        Index c = 0;
        if (have) {
          engine.bring_batch(s.start, s.rows);
          engine.forward({uses_dropout ? &rng : nullptr, s.before, s.after, NormMode::Train});
          engine.output_error(j);
          engine.read_losses(j, j + 1, losses.data(), &c);
          J_r = losses[std::size_t(j)];
        } else if (uses_dropout) {
          for (const auto& layer : net.layers())  // the masks of the other processes' rows
            if (layer.dropout > 0.0) rng.skip(std::uint64_t((s.before + s.after) * layer.n_out));
        }
        const double W_r = have ? weight_of(s.start, s.rows) : 0.0;
        const auto sums = sum_over_processes(
            {W_r, W_r * double(J_r), double(c), have ? 1.0 : 0.0, have ? double(J_r) : 0.0, stop ? 1.0 : 0.0});
        if (sums[5] > 0) {  // a Ctrl-C on any process stops every process, before this step
          check_losses(j);
          return false;
        }
        const double W = sums[0];
        // J of the global batch: the weighted mean of the processes' J (all-zero weights: the plain mean).
        losses[std::size_t(j)] = T(W > 0 ? sums[1] / W : sums[4] / sums[3]);
        shares[std::size_t(j)] = W;
        correct += Index(sums[2]);
        check_losses(j + 1);
        if (have) engine.backprop(T(0));
        // Each process's gradient is the mean over its rows: weighted by its share, they sum to the global mean.
        engine.reduce_grads(have, T(W > 0 ? W_r / W : 1.0 / sums[3]), dp->sum);
        if (options.record_grad_norms) engine.add_grad_norms(logs.grad_norms.data());
        if (optimizer.clips()) optimizer.clip(engine.grads(), P);  // by value, then global norm
        optimizer.step(engine.params(), engine.grads(), P);
      }
      check_losses(n_batches);
      rows_seen += plan.global_rows;
      batches_done += n_batches;
      return true;
    };

    bool completed = true;
    if (!source) {
      completed = run_piece(X, Y, dp);
    } else {
      std::exception_ptr failed_start;  // with data parallelism, reported at the first exchange
      try {
        source->start_epoch(options.epoch_offset + epoch);
      } catch (...) {
        if (!dp) throw;
        failed_start = std::current_exception();
      }
      Collective<T> piece = dp ? *dp : Collective<T>{};  // data parallelism: this chunk's rows per process
      Chunk<T> chunk;
      bool through = false;  // this process has read all its chunks (others may still train on theirs)
      while (completed) {
        bool have = false;
        std::exception_ptr failed = std::exchange(failed_start, nullptr);
        if (!failed) {
          try {
            have = !through && source->next(chunk);
            through = !have;
            // each chunk as in-memory data: width, NaN, labels
            if (have) net.validate(ConstMatrixMap<T>(chunk.X, chunk.rows, net.n_inputs()), chunk.Y);
          } catch (const std::invalid_argument& e) {
            failed = std::make_exception_ptr(std::invalid_argument(chunk.name + ": " + e.what()));
          } catch (...) {
            failed = std::current_exception();
          }
        }
        if (dp) {  // every process learns the others' chunk sizes (0: none left) and failures
          std::vector<double> v(std::size_t(2 * dp->size), 0.0);
          v[std::size_t(dp->rank)] = have ? double(chunk.rows) : 0.0;
          v[std::size_t(dp->size + dp->rank)] = failed ? 1.0 : 0.0;
          dp->sum_doubles(v.data(), Index(v.size()));
          throw_if_any_failed(v.data() + dp->size, failed, "read its next chunk");
          piece.rows_per_rank.assign(v.begin(), v.begin() + dp->size);
          const auto [least, most] = std::minmax_element(v.begin(), v.begin() + dp->size);
          if (*most == 0) break;  // every process is through its chunks
          if (!dp->sharded && *least != *most)
            throw std::invalid_argument(
                "data-parallel fit (sharded=False): the processes read chunks of different "
                "sizes; every process must read the same source");
        } else if (failed) {
          std::rethrow_exception(failed);
        } else if (!have) {
          break;
        }
        // A process through its chunks takes part in the others' steps with no rows.
        const auto Xc = ConstMatrixMap<T>(have ? chunk.X : nullptr, have ? chunk.rows : 0, net.n_inputs());
        const Targets<T> Yc = have ? chunk.Y : Targets<T>::from_dense(nullptr, 0, net.n_outputs());
        engine.set_data(Xc, Yc);
        completed = run_piece(Xc, Yc, dp ? &piece : nullptr);
      }
    }
    if (!completed) {
      result.interrupted = true;
      return result;
    }
    logs.loss = counted > 0 ? total / counted : 0.0;
    if (classifier && rows_seen > 0) logs.accuracy = double(correct) / double(rows_seen);
    for (auto& g : logs.grad_norms) g /= double(std::max<Index>(batches_done, 1));
    if (val_source) {  // every validation chunk, weighted by its rows
      double sum_J = 0, val_rows = 0, val_correct = 0;
      std::exception_ptr failed;
      Chunk<T> chunk;
      try {
        val_source->start_epoch(0);
        while (val_source->next(chunk)) {
          Index c = 0;
          T J = 0;
          try {
            J = engine.evaluate(ConstMatrixMap<T>(chunk.X, chunk.rows, net.n_inputs()), chunk.Y, &c);
          } catch (const std::invalid_argument& e) {
            throw std::invalid_argument("validation " + chunk.name + ": " + e.what());
          }
          sum_J += double(J) * double(chunk.rows);
          val_rows += double(chunk.rows);
          val_correct += double(c);
        }
      } catch (...) {
        if (!dp) throw;
        failed = std::current_exception();
      }
      if (dp) {  // each process evaluated its share of the validation chunks (or failed: all learn it)
        std::vector<double> v(std::size_t(3 + dp->size), 0.0);
        v[0] = val_rows, v[1] = sum_J, v[2] = val_correct;
        v[std::size_t(3 + dp->rank)] = failed ? 1.0 : 0.0;
        dp->sum_doubles(v.data(), Index(v.size()));
        throw_if_any_failed(v.data() + 3, failed, "evaluate its validation chunks");
        val_rows = v[0], sum_J = v[1], val_correct = v[2];
      }
      logs.val_loss = val_rows > 0 ? sum_J / val_rows : kNaN;
      if (classifier && val_rows > 0) logs.val_accuracy = val_correct / val_rows;
    } else if (has_val && !dp) {
      Index val_correct = 0;
      logs.val_loss = double(engine.evaluate_validation(0, validation.rows, classifier ? &val_correct : nullptr));
      if (classifier) logs.val_accuracy = double(val_correct) / double(validation.rows);
    } else if (has_val) {  // each process its share of the validation rows (sharded: its own), then the sums
      const Slice v = dp->sharded ? Slice{0, validation.rows, 0, 0} : share_of(validation.rows, dp->rank, dp->size);
      Index val_correct = 0;
      const double J_r = v.rows > 0 ? double(engine.evaluate_validation(v.start, v.rows, &val_correct)) : 0.0;
      const auto sums = sum_over_processes({double(v.rows), double(v.rows) * J_r, double(val_correct)});
      logs.val_loss = sums[1] / sums[0];
      if (classifier) logs.val_accuracy = sums[2] / sums[0];
    }
    result.epochs.push_back(logs);
    scheduler.end_epoch(options.schedule.monitor_validation ? logs.val_loss : logs.loss);

    // The callback sees every epoch, the last one too, whatever stops training.
    bool go_on = !callback || callback(logs);
    if (dp) go_on = sum_over_processes({go_on ? 0.0 : 1.0})[0] == 0;  // one process stopping stops all
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
              const FitOptions& options, const Validation<T>& validation, const EpochCallback& callback,
              const Collective<T>* collective, ChunkSource<T>* source, ChunkSource<T>* validation_source) {
  // once: the loop runs unchecked (a source's chunks are checked as they come)
  validate_fit(engine, optimizer, X, Y, options, validation, collective, source != nullptr,
               validation_source != nullptr);
  engine.begin_fit(X, Y, validation);
  FitResult result;
  try {
    result = train(engine, optimizer, X, Y, options, validation, callback, collective, source, validation_source);
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

#define FASTMLP_FIT(T)                                                                                            \
  template FitResult fit<T>(Engine<T>&, Optimizer<T>&, const ConstRef<T>&, const Targets<T>&, const FitOptions&,  \
                            const Validation<T>&, const EpochCallback&, const Collective<T>*, ChunkSource<T>*,    \
                            ChunkSource<T>*);                                                                     \
  template FitResult fit<T>(Network<T>&, Optimizer<T>&, const ConstRef<T>&, const Targets<T>&, const FitOptions&, \
                            const Validation<T>&, const EpochCallback&);
FASTMLP_FIT(float)
FASTMLP_FIT(double)
#undef FASTMLP_FIT

}  // namespace fastmlp
