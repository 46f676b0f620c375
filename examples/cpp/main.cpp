// Embedding fastmlp in a C++ program: train XOR and a 3-class softmax
// classifier, then (optionally) load a model saved from Python and predict.
//
//   fastmlp_example                      train the two small networks
//   fastmlp_example model.safetensors X.csv   also load a Python-saved model and
//                                        print its predictions for the rows of X.csv
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fastmlp/fastmlp.hpp"
#include "fastmlp/serialize.hpp"

using namespace fastmlp;

static void train_xor() {
  Matrix<double> X(4, 2), y(4, 1);
  X << 0, 0, 0, 1, 1, 0, 1, 1;
  y << 0, 1, 1, 0;
  // 2 inputs -> 4 tanh units -> 1 sigmoid unit, binary cross-entropy.
  Network<double> net({{2, 4, Activation::Tanh}, {4, 1, Activation::Sigmoid}}, Loss::BinaryCrossentropy);
  net.init_params(/*seed=*/0);
  SGD<double> sgd(/*learning_rate=*/0.5);
  FitOptions options;
  options.epochs = 3000;  // full-batch gradient descent (no batch_size)
  const FitResult result = fit<double>(net, sgd, {X, Targets<double>::from_dense(y.data(), 4, 1), options});
  const auto p = net.forward(X);
  std::printf("XOR: loss %.4f after %zu epochs; p(y=1) = %.3f %.3f %.3f %.3f\n", result.epochs.back().loss,
              result.epochs.size(), p(0, 0), p(1, 0), p(2, 0), p(3, 0));
}

static void train_softmax() {
  // Three Gaussian blobs in 2-D ("cat", "dog", "horse"), 100 points each.
  const char* names[] = {"cat", "dog", "horse"};
  const double centers[3][2] = {{-2, 0}, {2, 0}, {0, 2.5}};
  Rng rng(42);
  Matrix<float> X(300, 2);
  std::vector<std::int32_t> y(300);
  for (Index i = 0; i < 300; ++i) {
    const int c = int(i % 3);
    X(i, 0) = float(centers[c][0] + 0.7 * rng.normal());
    X(i, 1) = float(centers[c][1] + 0.7 * rng.normal());
    y[std::size_t(i)] = c;
  }
  Network<float> net({{2, 16, Activation::Relu}, {16, 3, Activation::Softmax}}, Loss::CategoricalCrossentropy);
  net.init_params(1);
  Adam<float> adam(0.01f);
  FitOptions options;
  options.epochs = 50;
  options.batch_size = 32;
  const auto result = fit<float>(net, adam, {X, Targets<float>::from_labels(y.data(), 300, 3), options});
  Matrix<float> probe(1, 2);
  probe << 0.1f, 2.4f;
  Index best;
  net.forward(probe).row(0).maxCoeff(&best);
  std::printf("softmax: train accuracy %.3f; (0.1, 2.4) is a %s\n", result.epochs.back().accuracy, names[best]);
}

static Matrix<double> read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<std::vector<double>> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    std::vector<double> row;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) row.push_back(std::stod(cell));
    rows.push_back(row);
  }
  Matrix<double> X(Index(rows.size()), rows.empty() ? 0 : Index(rows[0].size()));
  for (Index i = 0; i < X.rows(); ++i)
    for (Index j = 0; j < X.cols(); ++j) X(i, j) = rows[std::size_t(i)].at(std::size_t(j));
  return X;
}

int main(int argc, char** argv) {
  try {
    train_xor();
    train_softmax();
    if (argc >= 3) {
      Network<double> net = load_network<double>(argv[1]);
      const Matrix<double> X = read_csv(argv[2]);
      const auto A = net.forward(X);
      std::printf("loaded %s: %ld layers, %ld parameters\n", argv[1], long(net.num_layers()), long(net.num_params()));
      for (Index i = 0; i < A.rows(); ++i) {
        for (Index j = 0; j < A.cols(); ++j) std::printf(j ? ",%.17g" : "%.17g", A(i, j));
        std::printf("\n");
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
