// The training loop: epochs x mini-batches, all in C++.
//
// Each epoch optionally shuffles the sample order (seeded), then for every
// mini-batch computes J and the gradients and lets the optimizer step. The
// epoch's loss is the mean of its batch losses weighted by batch size (J before
// each step, L2 term included). Training stops after `epochs` epochs, or
// earlier when |J_k - J_{k-1}| < tol (the seeds' convergence rule; tol = 0
// never stops early), or when the callback returns false.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "fastmlp/losses.hpp"
#include "fastmlp/network.hpp"
#include "fastmlp/optimizers.hpp"

namespace fastmlp {

struct FitOptions {
  Index epochs = 100;
  Index batch_size = 0;  // 0: the whole data set per step (full-batch gradient descent)
  double tol = 0.0;
  bool shuffle = true;
  std::uint64_t seed = 0;
};

// Called after each epoch with (epoch index from 0, epoch loss); return false to stop.
template <class T>
using EpochCallback = std::function<bool(Index, T)>;

// Trains `net` in place and returns the loss of each epoch run.
// Throws std::invalid_argument for bad options or data (checked once, up front).
template <class T>
std::vector<T> fit(Network<T>& net, Optimizer<T>& optimizer, const ConstRef<T>& X, const Targets<T>& Y,
                   const FitOptions& options, const EpochCallback<T>& callback = {});

}  // namespace fastmlp
