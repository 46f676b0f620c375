// The steps of the training loop (trainer.cpp): one optimizer step on a mini-batch, taken by
// one process (LocalStep) or by every process of a data-parallel fit on its rows of the global
// batch (DataParallelStep), and the pass of an epoch over a piece of data (EpochPass: the
// batch order, the epoch loss and the divergence check). Private to trainer.cpp.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <numeric>
#include <utility>
#include <vector>

#include "epoch_data.hpp"
#include "fastmlp/random.hpp"

namespace fastmlp::detail {

// One piece's batches in this epoch: the plan, the order of its rows and their sample weights.
template <class T>
struct Batches {
  BatchPlan<T> plan;
  const Index* order = nullptr;  // null: the rows in order
  const T* weights = nullptr;    // null: each row counts 1

  // The weight of the rows order[s.start, s.start + s.rows): their sample weights, or their count.
  double weight(const Slice& s) const {
    if (!weights) return double(s.rows);
    double w = 0;
    for (Index r = s.start; r < s.start + s.rows; ++r) w += double(weights[order ? order[std::size_t(r)] : r]);
    return w;
  }
};

// What the batches of a piece measured: J_j, its weight in the epoch loss, the correct predictions.
template <class T>
struct Tally {
  std::vector<T> losses;
  std::vector<double> shares;
  Index correct = 0;
};

// One optimizer step on batch j (this process's rows `s` of it), in the lecture's order:
// forward (dropout active), output error, backprop, optimizer.step.
template <class T>
class Step {
 public:
  virtual ~Step() = default;
  // Called after the epoch's learning rate is set; the step adds ||dW_l||_F into grad_norms
  // (null: not recorded); check_inputs: its forward passes check X (DropoutDraw::check_inputs).
  virtual void start_epoch(double* grad_norms, bool check_inputs) = 0;
  // False: a stop (Ctrl-C; data parallelism: on any process) came before the step, which is
  // not taken.
  virtual bool take(Index j, const Slice& s, bool stop, const Batches<T>& b, Tally<T>& t) = 0;
  // Puts the losses of batches [first, done), their weights and correct predictions into `t`.
  virtual void read(Index first, Index done, const Batches<T>& b, Tally<T>& t) = 0;
  // True when a batch loss is known right after its step (else at the end of the piece).
  virtual bool knows_loss_at_once() const = 0;
};

// The dropout masks of a step come from `rng`; common to both steps.
template <class T>
struct StepParts {
  Engine<T>& engine;
  Optimizer<T>& optimizer;
  Rng& rng;
  bool uses_dropout;
  Rng* dropout() const { return uses_dropout ? &rng : nullptr; }
  Index P() const { return engine.host().num_params(); }
};

// One process: its batch; the engine keeps the losses (read as soon as it can tell them).
template <class T>
class LocalStep final : public Step<T> {
 public:
  explicit LocalStep(StepParts<T> parts) : p_(parts) {}
  void start_epoch(double* grad_norms, bool check_inputs) override {
    grad_norms_ = grad_norms;
    check_inputs_ = check_inputs;
    // Plain SGD is applied inside backprop (no gradient buffer) unless gradients are recorded or clipped.
    fused_ = grad_norms || p_.optimizer.clips() ? T(0) : p_.optimizer.plain_sgd_rate();
  }
  bool take(Index j, const Slice& s, bool stop, const Batches<T>&, Tally<T>&) override {
    if (stop) return false;
    Engine<T>& e = p_.engine;
    e.bring_batch(s.start, s.rows);
    e.train_step({p_.dropout(), 0, 0, NormMode::Train, check_inputs_}, j, fused_);
    if (grad_norms_) e.add_grad_norms(grad_norms_);
    if (fused_ == T(0)) {
      if (p_.optimizer.clips()) p_.optimizer.clip(e.grads(), p_.P());  // by value, then global norm
      p_.optimizer.step(e.params(), e.grads(), p_.P());
    }
    return true;
  }
  void read(Index first, Index done, const Batches<T>& b, Tally<T>& t) override {
    Index c = 0;
    p_.engine.read_losses(first, done, t.losses.data(), &c);
    t.correct += c;
    for (Index i = first; i < done; ++i) t.shares[std::size_t(i)] = b.weight(b.plan.slice(i));
  }
  bool knows_loss_at_once() const override { return p_.engine.losses_at_once(); }

 private:
  StepParts<T> p_;
  double* grad_norms_ = nullptr;
  T fused_ = 0;
  bool check_inputs_ = false;
};

// Data parallelism: this process's rows of the global batch, then the sums over the processes of
// the batch statistics and of the gradients, and the same optimizer step on every process.
template <class T>
class DataParallelStep final : public Step<T> {
 public:
  DataParallelStep(StepParts<T> parts, const Collective<T>& dp) : p_(parts), dp_(dp) {}
  void start_epoch(double* grad_norms, bool) override { grad_norms_ = grad_norms; }  // X checked before the fit
  bool take(Index j, const Slice& s, bool stop, const Batches<T>& b, Tally<T>& t) override {
    Engine<T>& e = p_.engine;
    const bool have = s.rows > 0;
    T J_r = 0;
    Index c = 0;
    if (have) {
      e.bring_batch(s.start, s.rows);
      e.forward({p_.dropout(), s.before, s.after, NormMode::Train});
      e.output_error(j);
      e.read_losses(j, j + 1, t.losses.data(), &c);
      J_r = t.losses[std::size_t(j)];
    } else if (p_.uses_dropout) {
      // the masks of the other processes' rows
      p_.rng.skip(std::uint64_t((s.before + s.after) * e.host().dropout_draws_per_row()));
    }
    const double W_r = have ? b.weight(s) : 0.0;
    const auto sums = sum_over_processes(
        dp_, {W_r, W_r * double(J_r), double(c), have ? 1.0 : 0.0, have ? double(J_r) : 0.0, stop ? 1.0 : 0.0});
    if (sums[5] > 0) return false;  // a Ctrl-C on any process stops every process, before this step
    const double W = sums[0];
    // J of the global batch: the weighted mean of the processes' J (all-zero weights: the plain mean).
    t.losses[std::size_t(j)] = T(W > 0 ? sums[1] / W : sums[4] / sums[3]);
    t.shares[std::size_t(j)] = W;
    t.correct += Index(sums[2]);
    if (have) e.backprop(T(0));
    // Each process's gradient is the mean over its rows: weighted by its share, they sum to the global mean.
    e.reduce_grads(have, T(W > 0 ? W_r / W : 1.0 / sums[3]), dp_.sum);
    if (grad_norms_) e.add_grad_norms(grad_norms_);
    if (p_.optimizer.clips()) p_.optimizer.clip(e.grads(), p_.P());  // by value, then global norm
    p_.optimizer.step(e.params(), e.grads(), p_.P());
    return true;
  }
  void read(Index, Index, const Batches<T>&, Tally<T>&) override {}  // take() put them there
  bool knows_loss_at_once() const override { return true; }

 private:
  StepParts<T> p_;
  const Collective<T>& dp_;
  double* grad_norms_ = nullptr;
};

// FitArgs::progress, called after a batch when kProgressInterval passed since the last call (or
// the fit began). Without a hook nothing is read; with one, the clock is read every `stride_`
// batches, a stride that adapts so that reads come about every 1-10 ms (a clock read is ~30 ns,
// 3% of a 1-row batch's step). An exception from the hook ends the calls and is kept for the
// epoch's end (where, with data parallelism, every process learns of it: no process may leave
// the others in a sum mid-epoch).
class ProgressTicker {
  using Clock = std::chrono::steady_clock;

 public:
  explicit ProgressTicker(const ProgressCallback& hook) : hook_(hook), last_(Clock::now()), read_(last_) {}
  void batch_done(Index done, Index total) {
    if (!hook_ || failed_ || ++since_read_ < stride_) return;
    since_read_ = 0;
    const auto now = Clock::now();
    const auto gap = now - read_;
    read_ = now;
    if (gap < std::chrono::milliseconds(1) && stride_ < 1024) stride_ *= 2;
    if (gap > std::chrono::milliseconds(10) && stride_ > 1) stride_ /= 2;
    if (now - last_ < std::chrono::duration<double>(kProgressInterval)) return;
    last_ = now;
    try {
      hook_(done, total);
    } catch (...) {
      failed_ = std::current_exception();
    }
  }
  // The hook's exception, once (null: none).
  std::exception_ptr take_failure() { return std::exchange(failed_, nullptr); }

 private:
  const ProgressCallback& hook_;
  Clock::time_point last_, read_;  // the last call of the hook, the last clock read
  Index stride_ = 1, since_read_ = 0;
  std::exception_ptr failed_;
};

// An epoch's pass over its pieces of data: for each, the seeded batch order, then its batches
// through `step`, each batch loss checked (finite) and counted into the epoch loss, which is the
// mean of the batch losses weighted by batch size or total sample weight.
template <class T>
class EpochPass {
 public:
  // `now`: the engine's copy of the weights this epoch started from (1 - now: the previous epoch's).
  // `progress` learns of the batches done; `one_piece`: the epoch is one piece (its batches known).
  EpochPass(Engine<T>& engine, Optimizer<T>& optimizer, Step<T>& step, Index epoch, int now, ProgressTicker& progress,
            bool one_piece)
      : engine_(engine),
        optimizer_(optimizer),
        step_(step),
        epoch_(epoch),
        now_(now),
        progress_(progress),
        one_piece_(one_piece) {}

  // The batches of one piece; false: stopped by `stop` (Ctrl-C) before a step.
  bool run(const Piece<T>& piece, const FitOptions& options, Rng& order_rng, std::vector<Index>& order) {
    Batches<T> b{BatchPlan<T>(piece.rows, options.batch_size, piece.split), nullptr, piece.weights};
    const Index m = b.plan.m, n_batches = b.plan.n_batches;
    const bool shuffled = options.shuffle && n_batches > 1;  // a full batch needs no shuffling: the same gradient
    order.resize(std::size_t(m));
    std::iota(order.begin(), order.end(), Index(0));
    if (shuffled) {
      order_rng.shuffle(order.data(), std::uint64_t(m));
      b.order = order.data();
    }
    engine_.set_order(b.order);
    tally_.losses.assign(std::size_t(n_batches), T(0));
    tally_.shares.assign(std::size_t(n_batches), 0.0);
    engine_.reserve_losses(n_batches);
    checked_ = 0;
    for (Index j = 0; j < n_batches; ++j) {
      const bool stop = options.stop && options.stop->load(std::memory_order_relaxed);
      if (!step_.take(j, b.plan.slice(j), stop, b, tally_)) {
        check_losses(j, b);  // a divergence before the Ctrl-C still counts as one
        return false;
      }
      if (step_.knows_loss_at_once()) check_losses(j + 1, b);
      progress_.batch_done(batches_done_ + j + 1, one_piece_ ? n_batches : 0);
    }
    check_losses(n_batches, b);
    rows_seen_ += b.plan.global_rows;
    batches_done_ += n_batches;
    return true;
  }

  double loss() const { return counted_ > 0 ? total_ / counted_ : 0.0; }
  Index correct() const { return tally_.correct; }
  Index rows_seen() const { return rows_seen_; }
  Index batches_done() const { return batches_done_; }

 private:
  // Checks and counts the losses of batches [checked_, done) of the piece.
  void check_losses(Index done, const Batches<T>& b) {
    if (checked_ == done) return;
    step_.read(checked_, done, b, tally_);
    for (; checked_ < done; ++checked_) {
      const T J = tally_.losses[std::size_t(checked_)];
      if (!std::isfinite(double(J))) {
        // J is measured before the step, so the first batch of an epoch blames the previous
        // epoch's last step: go back to where that epoch started.
        engine_.restore_params(batches_done_ + checked_ == 0 && epoch_ > 0 ? 1 - now_ : now_);
        optimizer_.reset();
        throw DivergenceError(epoch_, double(J));
      }
      const double share = tally_.shares[std::size_t(checked_)];  // a batch counts by its samples or weight
      total_ += double(J) * share;
      counted_ += share;
    }
  }

  Engine<T>& engine_;
  Optimizer<T>& optimizer_;
  Step<T>& step_;
  Index epoch_;
  int now_;
  ProgressTicker& progress_;
  bool one_piece_;
  Tally<T> tally_;
  Index checked_ = 0;  // batches of the current piece done
  double total_ = 0, counted_ = 0;
  Index rows_seen_ = 0, batches_done_ = 0;
};

}  // namespace fastmlp::detail
