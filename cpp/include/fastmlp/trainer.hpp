// The training loop: epochs x mini-batches, all in C++, written once against
// Engine<T> (engine.hpp), so the CPU and the CUDA engine follow the same rules.
//
// Each epoch optionally shuffles the sample order (seeded), then for every
// mini-batch runs forward, output error, backprop (dropout active) and lets the
// optimizer step. An epoch's loss is the mean of its batch losses weighted by
// batch size, or by each batch's total sample weight when there are sample
// weights (each J measured before its step, L2 term included); its accuracy
// is counted on the same forward passes. Validation data, when given, is
// evaluated after each epoch (no dropout).
//
// Training stops after `epochs` epochs, or earlier when
//   - |J_k - J_{k-1}| < tol (the lecture's convergence rule; tol = 0 never stops early),
//   - early stopping: the monitored loss did not improve by more than min_delta
//     for `patience` epochs (then the best epoch's weights are restored if asked),
//   - the callback returns false, or *stop becomes true (checked between batches:
//     the weights are those after the last completed step).
// A non-finite batch loss throws DivergenceError after restoring the weights
// the epoch started from (the previous epoch's start when it happens on the
// epoch's first batch: those weights came from the previous epoch's last step);
// so do non-finite weights after the very last step.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastmlp/engine.hpp"
#include "fastmlp/schedules.hpp"

namespace fastmlp {

// A quantity the loop logs per epoch (EpochLogs), for early stopping to watch.
enum class Metric { Loss, Accuracy, ValLoss, ValAccuracy };
Metric metric_from_name(const std::string& name);  // "loss", "accuracy", "val_loss", "val_accuracy"
const char* metric_name(Metric metric);

struct EarlyStopping {
  bool enabled = false;
  Index patience = 10;
  double min_delta = 0.0;
  Metric monitor = Metric::ValLoss;
  bool maximize = false;  // true: higher is better (accuracies)
  bool restore_best = true;
};

struct FitOptions {
  Index epochs = 100;
  std::optional<Index> batch_size;  // none: the whole data set per step (full-batch gradient descent)
  double tol = 0.0;
  bool shuffle = true;
  std::uint64_t seed = 0;  // shuffling and dropout masks
  Index epoch_offset = 0;  // epochs the model already trained (schedules continue from here)
  Schedule schedule;
  EarlyStopping early_stopping;
  bool record_grad_norms = false;
  const std::atomic<bool>* stop = nullptr;  // set from another thread or a signal handler
};

// Epoch counts (epochs, epoch_offset) are bounded so that their sum never overflows.
constexpr Index kMaxEpochs = Index(1) << 62;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct EpochLogs {
  Index epoch = 0;  // counted from 0 within this fit call
  double loss = kNaN, accuracy = kNaN, val_loss = kNaN, val_accuracy = kNaN, lr = kNaN;
  std::vector<double> grad_norms;  // per layer, mean over the epoch's batches of ||dW_l||_F
};

struct FitResult {
  std::vector<EpochLogs> epochs;
  Index best_epoch = -1;       // early stopping's best epoch (-1 without early stopping)
  bool stopped_early = false;  // by tol, early stopping or the callback
  bool interrupted = false;    // by *stop
};

// Throws std::invalid_argument for out-of-range options (epochs, batch size, tol,
// epoch_offset, early stopping, schedule). fit() calls it.
void validate_fit_options(const FitOptions& options);
void validate_early_stopping(const EarlyStopping& early_stopping);

class DivergenceError : public std::runtime_error {
 public:
  DivergenceError(Index epoch, double loss);
  Index epoch;
};

// An option this engine cannot do (e.g. record_grad_norms on the CUDA engine).
class NotSupported : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Called after each epoch; return false to stop.
using EpochCallback = std::function<bool(const EpochLogs&)>;

// Called during an epoch, after a batch, at most every kProgressInterval (a progress bar):
// the epoch's batches done and their number (0 when not known ahead: a chunked source).
using ProgressCallback = std::function<void(Index done, Index total)>;
constexpr double kProgressInterval = 0.1;  // seconds

// Training data larger than memory, in chunks (fastmlp.data on the Python side): start_epoch
// begins a pass (the source's own seeded chunk order), next() hands out the next chunk, false at
// the end of the pass; a chunk stays valid until the next call. The loop shuffles the rows inside
// each chunk (seeded) and cuts it into batches of batch_size; a chunk's last batch holds the rows
// left in it (batches do not straddle chunks), so chunks of a multiple of batch_size rows give the
// in-memory batches exactly. Each chunk is checked like in-memory data; errors name the chunk.
template <class T>
struct Chunk {
  const T* X = nullptr;  // rows x n_inputs, contiguous
  Index rows = 0;
  Targets<T> Y;
  std::string name;  // "chunk 3 (file.npy)": named in errors
};
template <class T>
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  virtual void start_epoch(Index epoch) = 0;
  virtual bool next(Chunk<T>& chunk) = 0;
};

// Data-parallel training (Horovod's design): `size` processes each run fit() on the same
// model; every step each one computes the gradient of its rows of the global mini-batch, and
// `sum` adds up, elementwise and in place, what every process passes (the same result on every
// process, e.g. MPI_Allreduce). Every process then takes the same optimizer step, so all hold
// bit-identical weights. Per step the loop sums the batch statistics (weight, loss, correct
// predictions, a stop flag: a few doubles) and then the gradient buffer (P values of T).
//   sharded = false: every process holds the same data (X, Y) and the same seed; they draw the
//     same batch order, and process r takes the r-th of `size` near-equal slices of each global
//     batch. The result equals fit() in one process with the same arguments (to rounding).
//   sharded = true: process r holds its own rows (rows_per_rank[r] of them); each global batch
//     is the concatenation, in rank order, of every process's next batch_size / size rows
//     (batch_size must divide by size; no batch_size: all rows in one step), taken in each
//     process's own order (shuffled with the seed and the rank). With shuffle = false this
//     equals one-process fit() with shuffle = false on the rows so interleaved.
// Dropout masks are drawn from the global batch position, as in one process. Validation rows
// are split (or, sharded, each process's own) and their loss and accuracy summed.
// An error on one process (its data refused at the start, a chunk it cannot read, its callback
// or progress hook throwing) is agreed on at the next exchange of flags (the start, each chunk,
// each epoch's end): that process throws its own error, every other one an error naming its rank.
template <class T>
struct Collective {
  int rank = 0, size = 1;
  bool sharded = false;
  std::vector<Index> rows_per_rank;  // sharded: the training rows of every process
  std::function<void(T* values, Index n)> sum;
  std::function<void(double* values, Index n)> sum_doubles;
};

// The arguments of one fit: the training data, in memory (X, Y) or in chunks (source), the
// options, and what is optional (validation data, the epoch and progress callbacks, data parallelism).
//   FitArgs<float> args(X, Y, options);  args.validation = {...};  fit<float>(engine, optimizer, args);
// X, Y and everything pointed to must outlive the fit call.
template <class T>
struct FitArgs {
  template <class Derived>  // binds X itself (any row-major matrix or map), so no temporary copy dangles
  FitArgs(const Eigen::MatrixBase<Derived>& X_, const Targets<T>& Y_, const FitOptions& options_ = {})
      : X(X_.derived()), Y(Y_), options(options_) {}

  ConstRef<T> X;  // rows x n_inputs; with a source: an empty matrix (engine.begin_fit still gets it)
  Targets<T> Y;
  FitOptions options;
  Validation<T> validation;                     // in memory (X null: none)
  EpochCallback callback;                       // empty: none
  ProgressCallback progress;                    // empty: none (the loop then reads no clock)
  const Collective<T>* collective = nullptr;    // data parallelism; null: one process
  ChunkSource<T>* source = nullptr;             // the training data in chunks, instead of X, Y
  ChunkSource<T>* validation_source = nullptr;  // the validation data in chunks, instead of `validation`
};

// Trains the engine's network in place, stepping with `optimizer` (made by
// engine.make_optimizer, or any Optimizer<T> over the engine's buffers). Throws
// std::invalid_argument for bad options or data (checked once, up front),
// NotSupported, and DivergenceError as described above.
template <class T>
FitResult fit(Engine<T>& engine, Optimizer<T>& optimizer, const FitArgs<T>& args);

// The same on the CPU: fit(CpuEngine<T>(net), optimizer, args).
template <class T>
FitResult fit(Network<T>& net, Optimizer<T>& optimizer, const FitArgs<T>& args);

}  // namespace fastmlp
