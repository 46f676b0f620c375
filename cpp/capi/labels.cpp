// The class labels and feature names of a model file's metadata, for the C API (capi_model.hpp).
// Python writes them (fastmlp/_persist.py):
//   classes           {"dtype": "<U6", "values": ["cat", "dog", "parrot"]}  (numpy's dtype.str; the
//                     values str, int, float or bool, sorted and distinct)
//   feature_names_in  ["sepal", "petal", ...]
// Read with nlohmann's SAX parser and a handler that takes exactly that shape and stops at the first
// value too many: no JSON tree is built, so memory stays bounded by the labels the model has, however
// long or deeply nested the entry (a hostile file's).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "capi_model.hpp"

namespace fastmlp::capi {

namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string& msg) { throw std::invalid_argument("not a valid fastmlp model file: " + msg); }

// The SAX events of one entry: {"dtype": <string>, "values": [<scalars>]} (classes) or
// [<strings>] (feature names). Any other event stops the parse with `error` set.
class EntryReader : public nlohmann::json_sax<json> {
 public:
  EntryReader(bool classes, std::size_t most) : classes_(classes), most_(most) {}
  std::vector<std::string> values;
  std::vector<bool> integer;  // values[i] was a JSON integer (a float label 1.0 may be written 1)
  std::string dtype, error;

  bool null() override { return refuse("null"); }
  bool boolean(bool v) override {
    return classes_ ? add(v ? "True" : "False", false, "a boolean") : refuse("a boolean");
  }
  bool number_integer(number_integer_t v) override { return number(std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return number(std::to_string(v)); }
  bool number_float(number_float_t, const string_t& text) override {
    return classes_ ? add(text, false, "a number") : refuse("a number");
  }
  bool string(string_t& v) override {
    if (classes_ && depth_ == 1 && key_ == "dtype") {
      dtype = v;
      return true;
    }
    return add(v, false, "a string");
  }
  bool binary(binary_t&) override { return refuse("binary data"); }
  bool start_object(std::size_t) override {
    if (!classes_ || depth_ != 0) return refuse("an object");
    depth_ = 1;
    return true;
  }
  bool key(string_t& k) override {
    if (k != "dtype" && k != "values") return fail("has the unknown key '" + k.substr(0, 40) + "'");
    if ((k == "dtype" && seen_dtype_) || (k == "values" && seen_values_)) return fail("repeats the key '" + k + "'");
    (k == "dtype" ? seen_dtype_ : seen_values_) = true;
    key_ = k;
    return true;
  }
  bool end_object() override {
    if (!seen_dtype_ || !seen_values_) return fail("must hold \"dtype\" and \"values\"");
    depth_ = 0;
    return true;
  }
  bool start_array(std::size_t) override {
    if (classes_ ? depth_ != 1 || key_ != "values" : depth_ != 0) return refuse("a list");
    in_list_ = true;
    ++depth_;
    return true;
  }
  bool end_array() override {
    in_list_ = false;
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    std::string m = e.what();
    const std::size_t close = m.find("] ");  // nlohmann's "[json.exception.parse_error.101] " prefix
    if (close != std::string::npos) m.erase(0, close + 2);
    return fail("is not valid JSON (" + m.substr(0, 200) + ")");
  }

 private:
  bool number(const std::string& text) { return classes_ ? add(text, true, "a number") : refuse("a number"); }
  bool add(const std::string& v, bool is_integer, const char* what) {
    if (!in_list_) return refuse(what);
    if (values.size() == most_) return fail("lists more than " + std::to_string(most_) + " values");
    values.push_back(v);
    integer.push_back(is_integer);
    return true;
  }
  bool refuse(const char* what) {
    return fail(std::string("must be ") +
                (classes_ ? "an object {\"dtype\": \"<U5\", \"values\": [...]} of labels" : "a list of strings") +
                ", found " + what + " where it is not allowed");
  }
  bool fail(const std::string& msg) {
    if (error.empty()) error = msg;
    return false;
  }
  bool classes_;
  std::size_t most_;
  int depth_ = 0;
  bool in_list_ = false, seen_dtype_ = false, seen_values_ = false;
  std::string key_;
};

// Values past the model's count still read (so that a small mismatch is reported with its count, as
// Python does); more stop the parse.
constexpr std::size_t kSpare = 64;

std::vector<std::string> read_entry(const Metadata& meta, const char* key, bool classes, std::size_t want,
                                    const std::string& model) {
  const std::string& text = meta.at(key);
  EntryReader reader(classes, want + kSpare);
  const bool ok = json::sax_parse(text, &reader);
  if (!ok || !reader.error.empty())
    bad(std::string("metadata '") + key + "' " + (reader.error.empty() ? "is not valid JSON" : reader.error) +
        (reader.error.rfind("lists more", 0) == 0 ? " but the model " + model : ""));
  if (reader.values.size() != want)
    bad(std::string("metadata '") + key + "' lists " + std::to_string(reader.values.size()) +
        (classes ? " labels but the model " : " names but the model ") + model);
  if (classes) {
    // numpy's dtype.str: a byte order ("<", ">", "|", "=") then the kind; a float label written as a
    // JSON integer (1) is the float 1.0, which Python shows as "1.0".
    const std::string& d = reader.dtype;
    const char kind = d.size() >= 2 && std::string("<>|=").find(d[0]) != std::string::npos ? d[1] : '?';
    if (std::string("biufUSO").find(kind) == std::string::npos)
      bad("metadata 'classes': dtype '" + d.substr(0, 40) + "' is not one labels are stored in");
    if (kind == 'f')
      for (std::size_t i = 0; i < reader.values.size(); ++i)
        if (reader.integer[i]) reader.values[i] += ".0";
  }
  return std::move(reader.values);
}

}  // namespace

std::size_t n_labels(Loss loss, std::size_t n_outputs) {
  if (loss == Loss::CategoricalCrossentropy) return n_outputs;
  if (loss == Loss::BinaryCrossentropy && n_outputs == 1) return 2;
  return 0;
}

Labels read_labels(const Metadata& meta, Loss loss, std::size_t n_outputs, std::size_t n_inputs) {
  Labels out;
  const std::size_t k = n_labels(loss, n_outputs);
  if (meta.count("classes")) {
    const std::string model =
        k ? "predicts " + std::to_string(k) + " classes" : std::string("takes no labels (regression or multi-label)");
    out.classes = read_entry(meta, "classes", true, k, model);
  }
  if (out.classes.empty() && is_classification(loss))  // class ids, as Python's classes_ (multi-label: one per output)
    for (std::size_t i = 0; i < (k ? k : n_outputs); ++i) out.classes.push_back(std::to_string(i));
  if (meta.count("feature_names_in"))
    out.feature_names =
        read_entry(meta, "feature_names_in", false, n_inputs, "has " + std::to_string(n_inputs) + " inputs");
  return out;
}

}  // namespace fastmlp::capi
