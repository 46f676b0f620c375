// Embedding fastmlp in a C++ program: train XOR and a 3-class softmax
// classifier, then (optionally) load a model saved from Python and predict.
//
//   fastmlp_example                      train the two small networks
//   fastmlp_example model.safetensors X.csv   also load a model saved from Python or by
//                                        the CLI and print its outputs and the class
//                                        names it predicts for the raw rows of X.csv
//                                        (as pandas writes a CSV: quoted cells, text
//                                        columns, empty cells; a first line that is not
//                                        numbers is the header: the model's columns are
//                                        taken by name when it knows them)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
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

// The records of a CSV text as pandas' to_csv writes them and read_csv reads them: fields separated by
// commas, records by "\n" or "\r\n"; a field in double quotes may hold commas, newlines and doubled
// quotes (""). Blank lines are skipped, a UTF-8 byte order mark dropped; cells are kept as they are
// (the model's columns read them: raw_rows.hpp). Limits: the separator is ',' and the quote '"' only.
// `lines`: the line on which each record starts.
static std::vector<std::vector<std::string>> csv_records(const std::string& text, const std::string& path,
                                                         std::vector<long>& lines) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string cell;
  std::size_t at = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  bool quoted = false, blank = true;  // blank: the record so far is empty (no cell, no quote)
  long line = 1, start = 1;
  for (; at < text.size(); ++at) {
    const char c = text[at];
    if (c == '\n') ++line;
    if (quoted) {
      if (c != '"') {
        cell += c;
      } else if (at + 1 < text.size() && text[at + 1] == '"') {
        cell += '"', ++at;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true, blank = false;
    } else if (c == ',') {
      record.push_back(std::move(cell)), cell.clear(), blank = false;
    } else if (c == '\n' || (c == '\r' && at + 1 < text.size() && text[at + 1] == '\n')) {
      if (c == '\r') ++at, ++line;
      if (!blank || !cell.empty())
        record.push_back(std::move(cell)), records.push_back(std::move(record)), lines.push_back(start);
      record.clear(), cell.clear(), blank = true, start = line;
    } else {
      cell += c;
    }
  }
  if (quoted) throw std::runtime_error(path + ": a quoted field is not closed");
  if (!blank || !cell.empty())
    record.push_back(std::move(cell)), records.push_back(std::move(record)), lines.push_back(start);
  return records;
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

// The rows of a CSV file as the model's raw rows (a text cell per raw column). A first line that is
// not all numbers is a header (column names). When the model knows its columns' names (a model
// fitted on a DataFrame or trained by the CLI) and the file has a header, the model's columns are
// taken by name, in the model's order, and other columns (the target, an id, ...) are left alone;
// otherwise every column is an input, in the file's order. A row whose width differs from the
// first is an error naming the line. `records` keeps the cells the rows point into; `lines` says
// where each row starts.
static std::vector<RawRow> read_csv(const std::string& path, const std::vector<std::string>& names,
                                    std::vector<std::vector<std::string>>& records, std::vector<long>& lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<long> starts;
  records = csv_records(text.str(), path, starts);
  if (records.empty()) throw std::runtime_error(path + ": no rows");
  const std::vector<std::string>& first = records[0];
  bool header = false;
  for (const std::string& cell : first) {
    double v;
    header = header || !parse_number(cell, v);
  }
  std::vector<std::size_t> columns;  // the file's column of each raw column of the model
  if (header && !names.empty()) {    // the header names the model's columns
    for (const std::string& name : names) {
      const auto at = std::find(first.begin(), first.end(), name);
      if (at == first.end())
        throw std::runtime_error(path + ": the header has no column '" + name +
                                 "' (the model's inputs are its columns, by name)");
      columns.push_back(std::size_t(at - first.begin()));
    }
  } else {
    for (std::size_t j = 0; j < first.size(); ++j) columns.push_back(j);
  }
  std::vector<RawRow> rows;
  for (std::size_t r = header ? 1 : 0; r < records.size(); ++r) {
    if (records[r].size() != first.size())
      throw std::runtime_error(path + ", line " + std::to_string(starts[r]) + ": " + std::to_string(records[r].size()) +
                               " values, the first row has " + std::to_string(first.size()));
    RawRow row;
    for (const std::size_t j : columns) row.emplace_back(records[r][j]);
    rows.push_back(std::move(row));
    lines.push_back(starts[r]);
  }
  if (rows.empty()) throw std::runtime_error(path + ": no rows of numbers or text below the header");
  return rows;
}

// A model saved from Python or by the CLI, applied to the rows of a CSV file: its outputs (as
// %.17g, one line per row) and, for a classifier, the class of each row ("row 3: setosa"). What the
// model was trained with is inside it (normalization, text columns' vocabularies, missing values'
// medians): the rows are raw, text cells as the CSV holds them.
static void predict_csv(const std::string& model_path, const std::string& csv_path) {
  Model<double> model = load_model<double>(model_path);
  Network<double>& net = model.network;
  std::vector<std::vector<std::string>> records;
  std::vector<long> lines;
  const std::vector<RawRow> rows = read_csv(csv_path, model.column_names(), records, lines);
  if (rows[0].size() != model.columns.size())
    throw std::runtime_error(csv_path + " has " + std::to_string(rows[0].size()) + " columns, the model takes " +
                             std::to_string(model.columns.size()) +
                             (Index(model.columns.size()) == net.n_inputs() ? " inputs" : " raw columns"));
  std::printf("loaded %s: %ld layers, %ld parameters\n", model_path.c_str(), long(net.num_layers()),
              long(net.num_params()));
  if (!model.column_names().empty()) {
    std::printf("columns:");
    for (const std::string& name : model.column_names()) std::printf(" %s", name.c_str());
    std::printf("\n");
  }
  Matrix<double> X(Index(rows.size()), net.n_inputs());  // model.encode_rows(rows), with the lines in messages
  for (std::size_t i = 0; i < rows.size(); ++i) {
    try {
      model.columns.encode(rows[i].data(), rows[i].size(), i, X.row(Index(i)).data());
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(csv_path + ", line " + std::to_string(lines[i]) + ": " + e.what());
    }
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
