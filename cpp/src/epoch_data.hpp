// The data side of the training loop (trainer.cpp): which rows each step takes, the pieces an
// epoch's data comes in (in memory: one piece; a ChunkSource: its chunks) and the validation of
// an epoch. Private to trainer.cpp; data parallelism is the Collective of trainer.hpp.
#pragma once

#include <algorithm>
#include <exception>
#include <functional>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fastmlp/trainer.hpp"

namespace fastmlp::detail {

// Data parallelism: sums `values` over the processes (every process gets the same sums).
template <class T>
std::vector<double> sum_over_processes(const Collective<T>& dp, std::initializer_list<double> values) {
  std::vector<double> v(values);
  dp.sum_doubles(v.data(), Index(v.size()));
  return v;
}

// Data parallelism: flags[r] > 0 where process r failed (`what` it could not do); every process
// then throws, its own error or one naming the first rank that failed, so none waits in a sum.
template <class T>
void throw_if_any_failed(const Collective<T>& dp, const double* flags, const std::exception_ptr& mine,
                         const std::string& what) {
  if (mine) std::rethrow_exception(mine);
  for (int r = 0; r < dp.size; ++r)
    if (flags[r] > 0) throw std::runtime_error("data-parallel fit: rank " + std::to_string(r) + " could not " + what);
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

// The batches of a piece: batch j is rows [j bs, j bs + nb) of the epoch's order (one process
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

// One piece of an epoch's training data, already in the engine (begin_fit or set_data): its
// rows here, their sample weights (null: each row counts 1) and how the processes hold it
// (null: one process; rows_per_rank: of this piece).
template <class T>
struct Piece {
  Index rows = 0;
  const T* weights = nullptr;
  const Collective<T>* split = nullptr;
};

// Where an epoch's training data comes from: start_epoch begins a pass, next() puts the next
// piece into the engine, false at the end of the pass.
template <class T>
class Pieces {
 public:
  virtual ~Pieces() = default;
  virtual void start_epoch(Index epoch) = 0;
  virtual bool next(Piece<T>& piece) = 0;
};

// In-memory data: one piece per epoch, the data begin_fit gave the engine (checked once, up front).
template <class T>
class MemoryPieces final : public Pieces<T> {
 public:
  explicit MemoryPieces(Piece<T> all) : all_(all) {}
  void start_epoch(Index) override { given_ = false; }
  bool next(Piece<T>& piece) override {
    if (given_) return false;
    piece = all_;
    given_ = true;
    return true;
  }

 private:
  Piece<T> all_;
  bool given_ = false;
};

// The chunks of a ChunkSource, each checked like in-memory data as it comes. With data
// parallelism every process learns the others' chunk sizes (0: none left) and failures at each
// chunk; a process through its chunks takes part in the others' steps with an empty piece.
template <class T>
class ChunkPieces final : public Pieces<T> {
 public:
  ChunkPieces(ChunkSource<T>& source, Engine<T>& engine, const Collective<T>* dp)
      : source_(source), engine_(engine), dp_(dp), split_(dp ? *dp : Collective<T>{}) {}

  void start_epoch(Index epoch) override {
    through_ = false;
    try {
      source_.start_epoch(epoch);
    } catch (...) {
      if (!dp_) throw;
      failed_start_ = std::current_exception();  // reported at the first exchange
    }
  }

  bool next(Piece<T>& piece) override {
    const Network<T>& net = engine_.host();
    bool have = false;
    std::exception_ptr failed = std::exchange(failed_start_, nullptr);
    if (!failed) {
      try {
        have = !through_ && source_.next(chunk_);
        through_ = !have;
        if (have) net.validate(ConstMatrixMap<T>(chunk_.X, chunk_.rows, net.n_inputs()), chunk_.Y);
      } catch (const std::invalid_argument& e) {
        failed = std::make_exception_ptr(std::invalid_argument(chunk_.name + ": " + e.what()));
      } catch (...) {
        failed = std::current_exception();
      }
    }
    if (dp_) {
      std::vector<double> v(std::size_t(2 * dp_->size), 0.0);
      v[std::size_t(dp_->rank)] = have ? double(chunk_.rows) : 0.0;
      v[std::size_t(dp_->size + dp_->rank)] = failed ? 1.0 : 0.0;
      dp_->sum_doubles(v.data(), Index(v.size()));
      throw_if_any_failed(*dp_, v.data() + dp_->size, failed, "read its next chunk");
      split_.rows_per_rank.assign(v.begin(), v.begin() + dp_->size);
      const auto [least, most] = std::minmax_element(v.begin(), v.begin() + dp_->size);
      if (*most == 0) return false;  // every process is through its chunks
      if (!dp_->sharded && *least != *most)
        throw std::invalid_argument(
            "data-parallel fit (sharded=False): the processes read chunks of different "
            "sizes; every process must read the same source");
    } else if (failed) {
      std::rethrow_exception(failed);
    } else if (!have) {
      return false;
    }
    const Index rows = have ? chunk_.rows : 0;
    const Targets<T> Y = have ? chunk_.Y : Targets<T>::from_dense(nullptr, 0, net.n_outputs());
    engine_.set_data(ConstMatrixMap<T>(have ? chunk_.X : nullptr, rows, net.n_inputs()), Y);
    piece = {rows, Y.weights, dp_ ? &split_ : nullptr};
    return true;
  }

 private:
  ChunkSource<T>& source_;
  Engine<T>& engine_;
  const Collective<T>* dp_;  // null: one process
  Collective<T> split_;      // data parallelism: the processes' rows of the current chunk
  Chunk<T> chunk_;
  bool through_ = false;  // this process has read all its chunks (others may still train on theirs)
  std::exception_ptr failed_start_;
};

// What one process's validation rows gave: their count, the sum of J x rows, the correct
// predictions, and their loss (the weighted mean of J: kept as computed, as one part's J is).
// loss = sum_J / weight: the chunks' losses J_c averaged by their weight (a chunk's sample weights' sum,
// or its rows without weights), so that weighted chunks give sum_i w_i l_i / sum_i w_i over all rows.
struct ValidationTotals {
  double rows = 0, sum_J = 0, correct = 0, loss = kNaN, weight = 0;
};
using EvaluateValidation = std::function<ValidationTotals()>;

// In-memory validation (in the engine since begin_fit): this process's share of the rows, or
// (sharded) all of its own.
template <class T>
EvaluateValidation memory_validation(Engine<T>& engine, Index rows, const Collective<T>* dp, bool classifier) {
  const Slice v = !dp || dp->sharded ? Slice{0, rows, 0, 0} : share_of(rows, dp->rank, dp->size);
  return [&engine, v, classifier] {
    Index correct = 0;
    const double J =
        v.rows > 0 ? double(engine.evaluate_validation(v.start, v.rows, classifier ? &correct : nullptr)) : 0.0;
    return ValidationTotals{double(v.rows), double(v.rows) * J, double(correct), v.rows > 0 ? J : kNaN, double(v.rows)};
  };
}

// Validation chunks: every chunk of the source (each process its own), each loss weighted by the
// chunk's weight (ValidationTotals). A chunk whose sample weights sum to 0 adds its rows to the
// accuracy and nothing to the loss (as evaluate on a source).
template <class T>
EvaluateValidation chunk_validation(Engine<T>& engine, ChunkSource<T>& source) {
  return [&engine, &source] {
    ValidationTotals t;
    Chunk<T> chunk;
    source.start_epoch(0);
    while (source.next(chunk)) {
      double weight = double(chunk.rows);
      Targets<T> Y = chunk.Y;
      if (Y.weights) {
        weight = 0;
        for (Index i = 0; i < chunk.rows; ++i) weight += double(Y.weights[i]);
        if (!(weight > 0)) Y.weights = nullptr;  // only its accuracy counts
      }
      Index c = 0;
      T J = 0;
      try {
        J = engine.evaluate(ConstMatrixMap<T>(chunk.X, chunk.rows, engine.host().n_inputs()), Y, &c);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("validation " + chunk.name + ": " + e.what());
      }
      if (weight > 0) t.sum_J += double(J) * weight, t.weight += weight;
      t.rows += double(chunk.rows);
      t.correct += double(c);
    }
    if (t.weight > 0) t.loss = t.sum_J / t.weight;
    return t;
  };
}

// The validation loss and accuracy of an epoch into `logs`: this process's rows evaluated (no
// dropout), then with data parallelism the sums over the processes (or a failure: all learn it).
template <class T>
void validate_epoch(const EvaluateValidation& evaluate, const Collective<T>* dp, bool classifier, EpochLogs& logs) {
  ValidationTotals t;
  std::exception_ptr failed;
  try {
    t = evaluate();
  } catch (...) {
    if (!dp) throw;
    failed = std::current_exception();
  }
  if (dp) {
    std::vector<double> v(std::size_t(4 + dp->size), 0.0);
    v[0] = t.rows, v[1] = t.sum_J, v[2] = t.correct, v[3] = t.weight;
    v[std::size_t(4 + dp->rank)] = failed ? 1.0 : 0.0;
    dp->sum_doubles(v.data(), Index(v.size()));
    throw_if_any_failed(*dp, v.data() + 4, failed, "evaluate its validation data");
    t = {v[0], v[1], v[2], v[3] > 0 ? v[1] / v[3] : kNaN, v[3]};
  }
  logs.val_loss = t.loss;
  if (classifier && t.rows > 0) logs.val_accuracy = t.correct / t.rows;
}

}  // namespace fastmlp::detail
