// Embedding fastmlp in a C++ program: train XOR and a 3-class softmax
// classifier, then (optionally) load a model saved from Python and predict.
//
//   fastmlp_example                      train the two small networks
//   fastmlp_example model.safetensors X.csv   also load a Python-saved model and
//                                        print its predictions for the rows of X.csv
//                                        (comma-separated numbers; a first line that is
//                                        not numbers, a header row, is skipped)
#include <cstdio>
#include <cstdlib>
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

// The whole cell as a number (blanks around it allowed), else false.
static bool parse_number(const std::string& cell, double& value) {
  const char* begin = cell.c_str();
  char* end = nullptr;
  value = std::strtod(begin, &end);
  if (end == begin) return false;
  while (*end == ' ' || *end == '\t' || *end == '\r') ++end;
  return *end == '\0';
}

// The rows of a CSV file of numbers. A first line that does not parse as numbers is a header
// (column names) and is skipped; anywhere else a cell that is not a number, or a row whose
// width differs from the first, is an error naming the line.
static Matrix<double> read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<std::vector<double>> rows;
  long line_no = 0;
  bool first = true;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty() || line == "\r") continue;
    std::vector<double> row;
    std::stringstream ss(line);
    std::string bad;
    bool numbers = true;
    for (std::string cell; numbers && std::getline(ss, cell, ',');) {
      double v;
      numbers = parse_number(cell, v);
      if (numbers)
        row.push_back(v);
      else
        bad = cell;
    }
    const bool header_allowed = first;
    first = false;
    if (!numbers || row.empty()) {
      if (header_allowed) continue;  // the header row
      throw std::runtime_error(path + ", line " + std::to_string(line_no) + ": '" + bad + "' is not a number");
    }
    if (!rows.empty() && row.size() != rows[0].size())
      throw std::runtime_error(path + ", line " + std::to_string(line_no) + ": " + std::to_string(row.size()) +
                               " values, the first row has " + std::to_string(rows[0].size()));
    rows.push_back(row);
  }
  if (rows.empty()) throw std::runtime_error(path + ": no rows of numbers");
  Matrix<double> X(Index(rows.size()), Index(rows[0].size()));
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
      if (X.cols() != net.n_inputs())
        throw std::runtime_error(std::string(argv[2]) + " has " + std::to_string(X.cols()) +
                                 " columns, the model takes " + std::to_string(net.n_inputs()) + " inputs");
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
