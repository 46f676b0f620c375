// The training loop: epochs x mini-batches, all in C++.
//
// Each epoch optionally shuffles the sample order (seeded), then for every
// mini-batch computes J and the gradients (dropout active) and lets the
// optimizer step. An epoch's loss is the mean of its batch losses weighted by
// batch size, or by each batch's total sample weight when there are sample
// weights (each J measured before its step, L2 term included); its accuracy
// is counted on the same forward passes. Validation data, when given, is
// evaluated after each epoch (no dropout).
//
// Training stops after `epochs` epochs, or earlier when
//   - |J_k - J_{k-1}| < tol (the seeds' convergence rule; tol = 0 never stops early),
//   - early stopping: the monitored loss did not improve by more than min_delta
//     for `patience` epochs (then the best epoch's weights are restored if asked),
//   - the callback returns false, or *stop becomes true (checked between batches:
//     the weights are those after the last completed step).
// A non-finite batch loss throws DivergenceError after restoring the weights
// the epoch started from (the previous epoch's start when it happens on the
// epoch's first batch: those weights came from the previous epoch's last step).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <vector>

#include "fastmlp/losses.hpp"
#include "fastmlp/network.hpp"
#include "fastmlp/optimizers.hpp"
#include "fastmlp/schedules.hpp"

namespace fastmlp {

struct EarlyStopping {
  bool enabled = false;
  Index patience = 10;
  double min_delta = 0.0;
  bool monitor_validation = true;  // val_loss; false: the training loss
  bool restore_best = true;
};

struct FitOptions {
  Index epochs = 100;
  Index batch_size = 0;  // 0: the whole data set per step (full-batch gradient descent)
  double tol = 0.0;
  bool shuffle = true;
  std::uint64_t seed = 0;      // shuffling and dropout masks
  Index epoch_offset = 0;      // epochs the model already trained (schedules continue from here)
  Schedule schedule;
  EarlyStopping early_stopping;
  bool record_grad_norms = false;
  const std::atomic<bool>* stop = nullptr;  // set from another thread or a signal handler
};

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct EpochLogs {
  Index epoch = 0;  // counted from 0 within this fit call
  double loss = kNaN, accuracy = kNaN, val_loss = kNaN, val_accuracy = kNaN, lr = kNaN;
  std::vector<double> grad_norms;  // per layer, mean over the epoch's batches of ||dW_l||_F
};

struct FitResult {
  std::vector<EpochLogs> epochs;
  Index best_epoch = -1;      // early stopping's best epoch (-1 without early stopping)
  bool stopped_early = false;  // by tol, early stopping or the callback
  bool interrupted = false;    // by *stop
};

// Throws std::invalid_argument for out-of-range options (epochs, batch size, tol,
// early stopping, schedule). fit() calls it; so does the CUDA backend.
void validate_fit_options(const FitOptions& options);

// The rules that end training after an epoch (tol, early stopping, the callback),
// shared by the CPU loop and the CUDA backend's loop.
class StopRules {
 public:
  explicit StopRules(const FitOptions& options) : options_(options) {}
  // Call once per epoch after result.epochs got `logs` and the callback ran (`go_on`
  // is its answer). Returns true when training must stop. `improved` tells the
  // caller that early stopping saw a new best epoch (time to snapshot the weights).
  bool end_epoch(const EpochLogs& logs, bool go_on, FitResult& result, bool& improved);

 private:
  const FitOptions& options_;
  double best_ = std::numeric_limits<double>::infinity();
  Index wait_ = 0;
};

class DivergenceError : public std::runtime_error {
 public:
  DivergenceError(Index epoch, double loss);
  Index epoch;
};

// Validation data (not owned); X null means none. X is rows x n_inputs(),
// contiguous (the caller checks its width; the bindings do).
template <class T>
struct Validation {
  const T* X = nullptr;
  Index rows = 0;
  Targets<T> Y;
};

// Called after each epoch; return false to stop.
using EpochCallback = std::function<bool(const EpochLogs&)>;

// Trains `net` in place. Throws std::invalid_argument for bad options or data
// (checked once, up front) and DivergenceError as described above.
template <class T>
FitResult fit(Network<T>& net, Optimizer<T>& optimizer, const ConstRef<T>& X, const Targets<T>& Y,
              const FitOptions& options, const Validation<T>& validation = {}, const EpochCallback& callback = {});

}  // namespace fastmlp
