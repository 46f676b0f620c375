// What the training loop's features cost when they are off (issue 4: < 5%).
//
// "bare": the least a training epoch can do — for each mini-batch, one
// gradients_unchecked() call with the SGD step fused in; no shuffling, no
// validation, no checks, no logs. "fit": fastmlp::fit() with every feature off
// (no shuffle, no validation, no early stopping, no schedule, no weights, no
// dropout, no callback). Same network, data, batches and arithmetic, so the
// difference is the loop's bookkeeping (divergence checks, accuracy counting,
// epoch snapshots, stop-flag polling). Medians of 15 repetitions in alternating order, 1 thread.
//
//   g++ -O3 -march=x86-64-v4 -fopenmp -DNDEBUG -DEIGEN_MAX_ALIGN_BYTES=64 -I cpp/include \
//       -I $(python -m cmeel cmake)/include/eigen3 bench/features/bench_features.cpp cpp/src/*.cpp -o
//       /tmp/bench_features
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "fastmlp/fastmlp.hpp"

using namespace fastmlp;
using Clock = std::chrono::steady_clock;

int main() {
  set_num_threads(1);
  const Index n = 20000;
  Rng rng(0);
  Matrix<float> X(n, 784);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = float(rng.uniform());
  std::vector<std::int32_t> y(static_cast<std::size_t>(n));
  for (auto& v : y) v = std::int32_t(rng.below(10));
  const auto Y = Targets<float>::from_labels(y.data(), n, 10);
  const std::vector<LayerSpec> layers = {
      {784, 256, Activation::Relu}, {256, 128, Activation::Relu}, {128, 10, Activation::Softmax}};

  std::printf("| batch | bare loop (samples/s) | fit(), features off (samples/s) | cost |\n|---|---|---|---|\n");
  for (Index bs : {32, 128, 512}) {
    std::vector<double> bare, full;
    for (int rep = 0; rep < 15; ++rep) {
      auto run_bare = [&] {  // bare loop
        Network<float> net(layers, Loss::CategoricalCrossentropy);
        net.init_params(1);
        const auto t = Clock::now();
        for (Index s = 0; s < n; s += bs) {
          const Index nb = std::min(bs, n - s);
          net.gradients_unchecked(X.middleRows(s, nb), Targets<float>::from_labels(y.data() + s, nb, 10), DropoutDraw{},
                                  0.01f);
        }
        bare.push_back(double(n) / std::chrono::duration<double>(Clock::now() - t).count());
      };
      auto run_fit = [&] {  // fit() with every feature off
        Network<float> net(layers, Loss::CategoricalCrossentropy);
        net.init_params(1);
        SGD<float> sgd(0.01f);
        FitOptions o;
        o.epochs = 1;
        o.batch_size = bs;
        o.shuffle = false;
        const auto t = Clock::now();
        fit<float>(net, sgd, {X, Y, o});
        full.push_back(double(n) / std::chrono::duration<double>(Clock::now() - t).count());
      };
      if (rep % 2) {  // alternate the order, so neither always runs second
        run_bare();
        run_fit();
      } else {
        run_fit();
        run_bare();
      }
    }
    std::sort(bare.begin(), bare.end());
    std::sort(full.begin(), full.end());
    const double b = bare[bare.size() / 2], f = full[full.size() / 2];
    std::printf("| %ld | %.1fk | %.1fk | %+.1f%% |\n", long(bs), b / 1e3, f / 1e3, 100.0 * (b - f) / b);
  }
}
