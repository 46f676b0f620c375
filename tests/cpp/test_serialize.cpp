// C++ tests of model files (fastmlp/serialize.hpp): the file's dtype and metadata come back as
// written, bytes and files agree, the writer refuses what the reader would refuse, and a model with
// text columns takes raw rows (fastmlp/raw_rows.hpp).
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include "check.hpp"
#include "fastmlp/fastmlp.hpp"

using namespace fastmlp;

namespace {

// A path in the temporary folder, unique to this process (ctest may run programs in parallel).
std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + (name.empty() ? "" : std::to_string(::getpid()) + "_" + name);
}

Network<double> small_net() {
  LayerSpec a, b;
  a.n_in = 3;
  a.n_out = 4;
  a.activation = Activation::LeakyRelu;
  a.alpha = 0.25;
  a.dropout = 0.5;
  b.n_in = 4;
  b.n_out = 2;
  b.activation = Activation::Softmax;
  Network<double> net({a, b}, Loss::CategoricalCrossentropy, 0.125);
  net.init_params(7);
  return net;
}

void test_metadata_and_dtype_round_trip() {
  const Network<double> net = small_net();
  const Metadata extra = {{"classes", "[\"a\", \"b\"]"}, {"note", "caf\xc3\xa9"}};
  const std::string path = temp_path("fastmlp_test_serialize.safetensors");
  save_network(net, path, extra);
  const ModelFile file = read_model_file(path);
  CHECK(std::holds_alternative<Network<double>>(file.network));
  const auto& back = std::get<Network<double>>(file.network);
  CHECK(back.num_params() == net.num_params());
  bool same = true;
  for (Index i = 0; i < net.num_params(); ++i) same = same && back.params()[i] == net.params()[i];
  CHECK(same);
  CHECK(back.layers()[0].dropout == 0.5 && back.layers()[0].alpha == 0.25 && back.l2() == 0.125);
  CHECK(file.metadata.at("classes") == extra.at("classes") && file.metadata.at("note") == extra.at("note"));
  CHECK(file.metadata.at("dtype") == "float64" && file.metadata.at("loss") == "categorical_crossentropy");
  // the bytes are the file's, and read back the same way
  const std::string bytes = model_file_bytes(net, extra);
  const ModelFile again = read_model_bytes(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  CHECK(again.metadata == file.metadata);
  // a float model from the same file, converted
  const Network<float> as_float = load_network<float>(path);
  CHECK(std::abs(double(as_float.params()[0]) - net.params()[0]) < 1e-6);
  std::remove(path.c_str());
}

void test_writer_refusals() {
  const Network<double> net = small_net();
  const std::string path = temp_path("fastmlp_test_refused.safetensors");
  CHECK_THROWS(save_network(net, path, {{"layers", "[]"}}), std::invalid_argument);              // fastmlp's own key
  CHECK_THROWS(save_network(net, path, {{"bad", std::string("\xff")}}), std::invalid_argument);  // not UTF-8
  CHECK_THROWS(write_file_atomic(temp_path(""), "x"), std::invalid_argument);                    // a folder
  CHECK_THROWS(write_file_atomic(temp_path("no/such/folder/f"), "x"), std::system_error);
  CHECK_THROWS(read_model_file(temp_path("fastmlp_no_such_file")), std::system_error);
  const unsigned char junk[12] = {4, 0, 0, 0, 0, 0, 0, 0, '[', ']', ' ', ' '};
  CHECK_THROWS(read_model_bytes(junk, sizeof junk), std::invalid_argument);
}

// load_model: the class and column names of the metadata, predict_class as Python's predict.
void test_class_and_column_names() {
  const Network<double> net = small_net();  // 3 inputs, 2 softmax outputs
  const Metadata extra = {{"classes", R"({"dtype":"<i8","values":[3,9]})"}, {"feature_names_in", R"(["a","b","c"])"}};
  const std::string bytes = model_file_bytes(net, extra);
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  Model<float> model = load_model_bytes<float>(data, bytes.size());
  CHECK(model.is_classifier() && model.classes == std::vector<std::string>({"3", "9"}));
  CHECK(model.feature_names == std::vector<std::string>({"a", "b", "c"}));
  CHECK(read_model_bytes(data, bytes.size()).classes() == model.classes);
  Matrix<float> X(4, 3);
  X << 1, 2, 3, -1, 0, 2, 0.5f, -3, 1, 4, 4, -4;
  const auto A = model.forward(X);
  std::vector<std::string> expected;
  for (Index i = 0; i < A.rows(); ++i) expected.push_back(A(i, 1) > A(i, 0) ? "9" : "3");
  CHECK(model.predict_class(X) == expected);
  // no "classes": class ids; a regression model: no class, and predict_class refuses
  CHECK(class_names({}, Loss::CategoricalCrossentropy, 3) == std::vector<std::string>({"0", "1", "2"}));
  CHECK(class_names({}, Loss::BinaryCrossentropy, 1) == std::vector<std::string>({"0", "1"}));
  CHECK(class_names({}, Loss::BinaryCrossentropy, 2).empty() && class_names({}, Loss::MeanSquaredError, 1).empty());
  CHECK(class_names({{"classes", R"({"dtype":"|b1","values":[false,true]})"}}, Loss::BinaryCrossentropy, 1) ==
        std::vector<std::string>({"False", "True"}));
  CHECK(class_names({{"classes", R"({"dtype":"<f4","values":[0.10000000149011612,1e-05]})"}},
                    Loss::CategoricalCrossentropy, 2) == std::vector<std::string>({"0.1", "1e-05"}));
  CHECK_THROWS(class_names({{"classes", R"({"dtype":"<U1","values":["a"]})"}}, Loss::CategoricalCrossentropy, 2),
               std::invalid_argument);
  CHECK_THROWS(feature_names({{"feature_names_in", R"(["a"])"}}, 3), std::invalid_argument);
  model.classes.clear();
  CHECK_THROWS(model.predict_class(X), std::invalid_argument);
}

// A model with a ColumnEmbedding (its vocabulary as Python writes it) on raw rows of text cells
// (fastmlp/raw_rows.hpp): numbers, the median and indicator of a missing one, category codes by text,
// by number value and by bool, unseen and missing cells; refusals that name the row and column.
Model<double> tabular_model(const std::string& vocabulary, const std::string& tables) {
  LayerConfig embed{"ColumnEmbedding", {}, {}, false}, dense{"Dense", {}, {}, false};
  embed.set("n_in", ConfigValue::of(std::int64_t(3))).set("tables", ConfigValue::of(tables));
  embed.set("vocabulary", ConfigValue::of(vocabulary));
  dense.set("n_out", ConfigValue::of(std::int64_t(2))).set("activation", ConfigValue::of(std::string("softmax")));
  Network<double> net({embed, dense}, -1, Loss::CategoricalCrossentropy);
  net.init_params(3);
  const std::string bytes = model_file_bytes(net);
  return load_model_bytes<double>(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

void test_raw_rows() {
  const std::string vocabulary =
      R"({"fill_missing":true,"columns":[{"name":"n","kind":"number","median":2.5,"indicator":true},)"
      R"({"name":"c","kind":"category","categories":["b","1",1,true],"dim":2}]})";
  Model<double> model = tabular_model(vocabulary, "1:6x2");
  CHECK(model.column_names() == std::vector<std::string>({"n", "c"}) && model.columns.width() == 3);
  const std::vector<RawRow> rows = {{"1.5", "b"}, {"", "zz"},    {"NA", ""},   {" -2 ", "1.0"},
                                    {"1e1", "1"}, {"3", "TRUE"}, {"4", "nan"}, {"5", " b"}};
  const Matrix<double> X = model.encode_rows(rows);
  Matrix<double> expected(8, 3);
  expected << 1.5, 2, 0, 2.5, 0, 1, 2.5, 1, 1, -2, 4, 0, 10, 3, 0, 3, 5, 0, 4, 1, 0, 5, 0, 0;
  CHECK(X == expected);
  CHECK(model.predict_class_rows(rows) == model.predict_class(X));
  CHECK(model.predict_rows(rows) == model.forward(X));
  for (const RawRow& bad : std::vector<RawRow>{{"x", "b"}, {"inf", "b"}, {"1"}}) {
    std::string message;
    try {
      model.encode_rows({{"1", "b"}, bad});
    } catch (const std::invalid_argument& e) {
      message = e.what();
    }
    CHECK(message.find("row 1") != std::string::npos);
    CHECK(bad.size() == 1 || message.find("column 'n'") != std::string::npos);
  }
  // a vocabulary that disagrees with the tables, or is not one: the file is invalid
  CHECK_THROWS(tabular_model(vocabulary, "1:5x2"), std::invalid_argument);
  CHECK_THROWS(tabular_model(R"({"columns":[{"name":"n","kind":"number"},{"name":"n","kind":"number"}]})", ""),
               std::invalid_argument);
  CHECK_THROWS(tabular_model(std::string(100000, '[') + std::string(100000, ']'), "1:6x2"), std::invalid_argument);
}

}  // namespace

int main() {
  RUN(test_metadata_and_dtype_round_trip);
  RUN(test_writer_refusals);
  RUN(test_class_and_column_names);
  RUN(test_raw_rows);
  std::printf("%d checks, %d failed\n", check::checks, check::failures);
  return check::failures == 0 ? 0 : 1;
}
