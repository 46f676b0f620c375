// Threads for the matrix products and the large elementwise passes. A product is split across threads
// by rows or columns of its result (gemm.cpp chooses), in chunks whose boundaries do not
// change the arithmetic: every result element is computed by the same code in
// the same order whatever the number of threads, so training gives
// bit-identical weights with 1, 2 or more threads. Products smaller than
// kParallelMinFlops run on one thread (a fork/join costs more than they do).
#pragma once

#include <functional>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>

#include "fastmlp/types.hpp"

namespace fastmlp {

// The number of threads products may use (>= 1). Default: the CPUs this process
// may run on, at most 8. The threads are a pool of std::threads started at first use (threads.cpp).
int get_num_threads();
// Throws std::invalid_argument unless 1 <= n <= max_num_threads(). Lowering the count stops the
// pool's surplus threads (after the product running now, if any).
void set_num_threads(int n);
// The most set_num_threads takes: max(64, 4 x the hardware threads). More threads than that only
// cost memory and switches (3,000 turned a 0.09 s fit into 12.6 s).
int max_num_threads();

constexpr double kParallelMinFlops = 4.0e6;

// While one lives on this thread, products split from kParallelMinFlopsReadOnly on. For inference (the
// weights are only read): a one-sample product is bound by reading W, and with its columns split each
// core streams its share of W from its own cache (784-256-128-10 batch 1: 15 us -> 9.5 us on 2 cores).
// Not in training: there the update writes all of W on one core after every small batch, so the shares
// would move between the cores' caches every step (batch 1 ran 3x slower). Splitting the one-sample
// update of the first layer (no delta to propagate) by the same columns does not rescue it: two cores
// writing the two column halves of every row of the 784 x 256 W took 53-64 us against 14.7 us on one
// core (each row's halves are neighbours, and the cores' prefetchers take each other's lines); split by
// rows it took 11 us, but then with the forward split by columns the shares moved every step (64-70 us).
constexpr double kParallelMinFlopsReadOnly = 1.0e5;
class ReadOnlyProducts {
 public:
  ReadOnlyProducts();
  ~ReadOnlyProducts();
  ReadOnlyProducts(const ReadOnlyProducts&) = delete;
  ReadOnlyProducts& operator=(const ReadOnlyProducts&) = delete;

 private:
  double saved_;
};

// A reference to a callable (a lambda), for parallel_for: unlike a std::function, making one never
// allocates. A lambda capturing more than two references does not fit std::function's inline
// storage, so every product and elementwise pass allocated (the C API's predict allocates nothing).
// It refers to the callable: valid while that lives (a call's argument).
template <class Signature>
class FunctionRef;
template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT(google-explicit-constructor): lambdas convert, as to std::function
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))), call_([](void* o, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(args)...);
        }) {}
  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

// While one lives on this thread, products and elementwise passes run on this thread alone: no
// pool, no lock, no allocation. The C API's predict: the embedding program owns its threads, and
// several of them predict at once, each on its own core.
class CallerThreadOnly {
 public:
  CallerThreadOnly();
  ~CallerThreadOnly();
  CallerThreadOnly(const CallerThreadOnly&) = delete;
  CallerThreadOnly& operator=(const CallerThreadOnly&) = delete;

 private:
  bool saved_;
};

// Runs fn(j0, j1) over [0, N) cut into one contiguous chunk per thread (each boundary a
// multiple of `align`), chunk t always on thread t (the caller is thread 0), so that repeated
// products find their share of the operands in the same core's cache; on one thread when
// flops < kParallelMinFlops (or the ReadOnlyProducts threshold).
void parallel_for(Index N, double flops, Index align, FunctionRef<void(Index, Index)> fn);

// Elementwise passes (bias and activation, their derivatives, the input check) split by rows from
// kParallelMinElements elements on (training or not): ~10 us of work against ~1 us for the fork/join.
// Each element (each row of a softmax) is computed by the same code whatever the split, so results
// stay bit-identical. Rows, as the products of a large batch are split: each core finds its rows in
// its own cache. At 2 threads, batch 2048, these passes had run on one core while the other spun
// (the spinning: 5.1-5.7% of the CPU samples before, 4.3-4.4% after, 2 runs each).
constexpr Index kParallelMinElements = 32768;
inline void parallel_elementwise(Index N, Index elements, Index align, FunctionRef<void(Index, Index)> fn) {
  parallel_for(N, elements >= kParallelMinElements ? std::numeric_limits<double>::infinity() : 0.0, align, fn);
}

}  // namespace fastmlp
