// Embedding fastmlp in a C++ program: train XOR and a 3-class softmax
// classifier, then (optionally) load a model saved from Python and predict.
//
//   fastmlp_example                      train the two small networks
//   fastmlp_example model.safetensors X.csv   also load a model saved from Python or by
//                                        the CLI and print its outputs and the class
//                                        names it predicts for the raw rows of X.csv
//                                        (comma-separated; a first line that is not
//                                        numbers is the header: the model's columns are
//                                        taken by name when it knows them)
#include <algorithm>
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

// The cells of a CSV line (no quoted commas; blanks, a '\r' and surrounding double quotes of a cell
// are dropped, as in column names written by pandas or Python's csv module).
static std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  for (std::string cell; std::getline(ss, cell, ',');) {
    const std::size_t b = cell.find_first_not_of(" \t\r"), e = cell.find_last_not_of(" \t\r");
    cell = b == std::string::npos ? "" : cell.substr(b, e - b + 1);
    if (cell.size() >= 2 && cell.front() == '"' && cell.back() == '"') cell = cell.substr(1, cell.size() - 2);
    cells.push_back(cell);
  }
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

// The rows of a CSV file as the model's inputs. A first line that does not parse as numbers is a
// header (column names). When the model knows its columns' names (a model fitted on a DataFrame or
// trained by the CLI) and the file has a header, the model's columns are taken by name, in the
// model's order, and other columns (the target, an id, ...) are left alone; otherwise every column
// is an input, in the file's order. A cell of an input column that is not a number, or a row whose
// width differs from the first, is an error naming the line.
static Matrix<double> read_csv(const std::string& path, const std::vector<std::string>& names) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<std::vector<double>> rows;
  std::vector<std::size_t> columns;  // the file's column of each input
  std::size_t width = 0;             // cells per line
  long line_no = 0;
  bool first = true;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty() || line == "\r") continue;
    const std::vector<std::string> cells = cells_of(line);
    if (first) {
      first = false;
      width = cells.size();
      bool numbers = true;
      for (const std::string& cell : cells) {
        double v;
        numbers = numbers && parse_number(cell, v);
      }
      if (!numbers && !names.empty()) {  // the header names the model's columns
        for (const std::string& name : names) {
          const auto at = std::find(cells.begin(), cells.end(), name);
          if (at == cells.end())
            throw std::runtime_error(path + ": the header has no column '" + name +
                                     "' (the model's inputs are its columns, by name)");
          columns.push_back(std::size_t(at - cells.begin()));
        }
      } else {
        for (std::size_t j = 0; j < width; ++j) columns.push_back(j);
      }
      if (!numbers) continue;  // the header row
    }
    if (cells.size() != width)
      throw std::runtime_error(path + ", line " + std::to_string(line_no) + ": " + std::to_string(cells.size()) +
                               " values, the first row has " + std::to_string(width));
    std::vector<double> row;
    for (const std::size_t j : columns) {
      double v;
      if (!parse_number(cells[j], v))
        throw std::runtime_error(path + ", line " + std::to_string(line_no) + ": '" + cells[j] + "' is not a number");
      row.push_back(v);
    }
    rows.push_back(row);
  }
  if (rows.empty()) throw std::runtime_error(path + ": no rows of numbers");
  Matrix<double> X(Index(rows.size()), Index(columns.size()));
  for (Index i = 0; i < X.rows(); ++i)
    for (Index j = 0; j < X.cols(); ++j) X(i, j) = rows[std::size_t(i)][std::size_t(j)];
  return X;
}

// A model saved from Python or by the CLI, applied to the rows of a CSV file: its outputs (as
// %.17g, one line per row) and, for a classifier, the class of each row ("row 3: setosa"). The
// normalization the model was trained with is inside it: the rows are raw.
static void predict_csv(const std::string& model_path, const std::string& csv_path) {
  Model<double> model = load_model<double>(model_path);
  Network<double>& net = model.network;
  const Matrix<double> X = read_csv(csv_path, model.feature_names);
  if (X.cols() != net.n_inputs())
    throw std::runtime_error(csv_path + " has " + std::to_string(X.cols()) + " columns, the model takes " +
                             std::to_string(net.n_inputs()) + " inputs");
  std::printf("loaded %s: %ld layers, %ld parameters\n", model_path.c_str(), long(net.num_layers()),
              long(net.num_params()));
  if (!model.feature_names.empty()) {
    std::printf("columns:");
    for (const std::string& name : model.feature_names) std::printf(" %s", name.c_str());
    std::printf("\n");
  }
  const auto A = model.forward(X);
  for (Index i = 0; i < A.rows(); ++i) {
    for (Index j = 0; j < A.cols(); ++j) std::printf(j ? ",%.17g" : "%.17g", A(i, j));
    std::printf("\n");
  }
  if (!model.is_classifier()) return;
  std::printf("classes:");
  for (const std::string& name : model.classes) std::printf(" %s", name.c_str());
  std::printf("\n");
  const std::vector<std::string> labels = model.predict_class(X);
  for (std::size_t i = 0; i < labels.size(); ++i) std::printf("row %zu: %s\n", i, labels[i].c_str());
}

int main(int argc, char** argv) {
  try {
    train_xor();
    train_softmax();
    if (argc >= 3) predict_csv(argv[1], argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
