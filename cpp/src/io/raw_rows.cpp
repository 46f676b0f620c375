// Raw rows (fastmlp/raw_rows.hpp): the ColumnEmbedding's "vocabulary" (written by Python's
// fastmlp.tabular.Columns.to_json) read once into lookup tables, and rows of text cells encoded with
// them as Columns.encode encodes a DataFrame read by pandas' read_csv.
//   {"fill_missing": true, "columns": [{"name": "city", "kind": "category", "categories": ["a", 1, true],
//    "dim": 3}, {"name": "age", "kind": "number", "median": 41.0, "indicator": true}, ...]}
#include "fastmlp/raw_rows.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fastmlp/serialize.hpp"
#include "safetensors.hpp"  // json, bad, clip, describe

namespace fastmlp {

using namespace io;

namespace {

constexpr Index kOov = 0, kMissing = 1, kFirst = 2;  // Python's tabular.OOV, MISSING, FIRST

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool same_letters(std::string_view s, std::string_view lower) {  // s == lower, ignoring ASCII case
  if (s.size() != lower.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (char(s[i] | 0x20) != lower[i]) return false;
  return true;
}

// "True" / "False" in any case (pandas' bool column): 1, 0; else -1.
int bool_cell(std::string_view s) { return same_letters(s, "true") ? 1 : same_letters(s, "false") ? 0 : -1; }

// A number as pandas reads one: blanks around, a sign, digits with at most one '.', an exponent.
// kInteger (digits only, in int64: `i` exact), kReal (`x`), kInfinite ("inf", "Infinity", "1e999"),
// or kNone (not a number: "0x10", "1_000", "", "abc").
enum class Num { kNone, kInteger, kReal, kInfinite };

Num read_number(std::string_view cell, std::int64_t& i, double& x) {
  std::string_view s = trimmed(cell);
  const bool minus = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  if (same_letters(s, "inf") || same_letters(s, "infinity")) return Num::kInfinite;
  std::size_t k = 0, int_digits = 0, frac_digits = 0;
  while (k < s.size() && s[k] >= '0' && s[k] <= '9') ++k, ++int_digits;
  const bool dot = k < s.size() && s[k] == '.';
  if (dot)
    for (++k; k < s.size() && s[k] >= '0' && s[k] <= '9';) ++k, ++frac_digits;
  if (int_digits + frac_digits == 0) return Num::kNone;
  const std::size_t mantissa_end = k;
  if (k < s.size() && (s[k] == 'e' || s[k] == 'E')) {
    std::size_t e = k + 1;
    if (e < s.size() && (s[e] == '+' || s[e] == '-')) ++e;
    const std::size_t digits_at = e;
    while (e < s.size() && s[e] >= '0' && s[e] <= '9') ++e;
    if (e == digits_at) return Num::kNone;
    k = e;
  }
  if (k != s.size()) return Num::kNone;
  const char* begin = s.data();
  if (!dot && mantissa_end == s.size()) {  // an integer: exact when it fits int64
    std::uint64_t u = 0;
    const auto [p, ec] = std::from_chars(begin, begin + s.size(), u);
    if (ec == std::errc() && p == begin + s.size() && u <= std::uint64_t(INT64_MAX) + minus) {
      i = minus ? std::int64_t(0 - u) : std::int64_t(u);
      return Num::kInteger;
    }
  }
  const auto [p, ec] = std::from_chars(begin, begin + s.size(), x);
  if (ec == std::errc::result_out_of_range) {  // overflow (inf, an error) or underflow (0, as pandas)
    long exponent = 0;
    const std::size_t e = s.find_first_of("eE");
    if (e != std::string_view::npos) {
      std::string_view digits = s.substr(e + 1);
      const bool negative = !digits.empty() && digits[0] == '-';
      if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) digits.remove_prefix(1);
      for (const char c : digits) exponent = std::min(exponent * 10 + (c - '0'), 100000L);
      if (negative) exponent = -exponent;
    }
    // the decimal magnitude: the exponent plus the place of the first non-zero digit
    const std::size_t lead = s.substr(0, mantissa_end).find_first_not_of("0.");
    const long point = long(int_digits), first = lead == std::string_view::npos ? point : long(lead);
    if (exponent + (first < point ? point - first - 1 : point - first) > 0) return Num::kInfinite;
    x = 0.0;
  } else if (ec != std::errc() || p != begin + s.size()) {
    return Num::kNone;
  }
  if (minus) x = -x;
  return std::isfinite(x) ? Num::kReal : Num::kInfinite;
}

// An integral double in int64's range as that integer (1.0 and 1 are one category, as in Python).
bool integral(double x, std::int64_t& i) {
  if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0) || x != std::floor(x)) return false;
  i = std::int64_t(x);
  return true;
}

}  // namespace

struct RawColumns::Impl {
  struct Column {
    std::string name;
    bool category = false;
    // category: code of each text, number (integral ones as int64), and of False / True (-1: none)
    std::vector<std::string> texts;  // owns the keys of by_text
    std::unordered_map<std::string_view, Index> by_text;
    std::unordered_map<std::int64_t, Index> by_integer;
    std::unordered_map<double, Index> by_real;
    Index by_bool[2] = {-1, -1};
    // number: the median filling a missing cell (fill), and the output column of its indicator (-1: none)
    bool fill = false;
    double median = 0.0;
    Index indicator = -1;
  };
  std::vector<Column> columns;
  std::vector<std::string> names;
  Index width = 0;
  bool described = true;  // false: a ColumnEmbedding without vocabulary

  Index code_of(const Column& c, std::string_view cell) const {
    if (is_missing_cell(cell)) return kMissing;
    if (const auto at = c.by_text.find(cell); at != c.by_text.end()) return at->second;
    std::int64_t i = 0;
    double x = 0;
    switch (read_number(cell, i, x)) {
      case Num::kInteger: {
        const auto at = c.by_integer.find(i);
        return at == c.by_integer.end() ? kOov : at->second;
      }
      case Num::kReal: {
        if (integral(x, i)) {
          const auto at = c.by_integer.find(i);
          return at == c.by_integer.end() ? kOov : at->second;
        }
        const auto at = c.by_real.find(x);
        return at == c.by_real.end() ? kOov : at->second;
      }
      case Num::kInfinite: return kOov;
      case Num::kNone: break;
    }
    const int b = bool_cell(cell);
    return b < 0 || c.by_bool[b] < 0 ? kOov : c.by_bool[b];
  }
};

namespace {

using Column = RawColumns::Impl::Column;

// The vocabulary as a tree of five levels at most (the object, "columns", a column, its "categories", a
// category): what lies deeper is dropped as it is read, which leaves an empty list or object where a
// name, a number or a category goes (refused there) and changes nothing elsewhere (ignored, as Python does).
// So the tree is small and shallow whatever the text.
json vocabulary_json(const std::string& text) {
  const json::parser_callback_t keep = [](int depth, json::parse_event_t, json&) { return depth <= 4; };
  try {
    return json::parse(text.begin(), text.end(), keep);
  } catch (const json::exception& e) {
    bad("the ColumnEmbedding's vocabulary is not valid JSON (" + json_error(e) + ")");
  }
}

void add_category(Column& c, const json& v, Index code, const std::string& where) {
  std::int64_t i = 0;
  if (v.is_string()) {
    c.texts.push_back(v.get<std::string>());
  } else if (v.is_boolean()) {
    Index& slot = c.by_bool[v.get<bool>() ? 1 : 0];
    if (slot < 0) slot = code;  // the first of equal categories, as Python
  } else if (v.is_number_integer() && !(v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(INT64_MAX))) {
    c.by_integer.emplace(v.get<std::int64_t>(), code);
  } else if (v.is_number() && std::isfinite(v.get<double>())) {
    if (integral(v.get<double>(), i))
      c.by_integer.emplace(i, code);
    else
      c.by_real.emplace(v.get<double>(), code);
  } else {
    bad(where + " has the category " + describe(v) + " (categories are strings, bools, integers or finite floats)");
  }
}

Column read_column(const json& e, std::size_t j, std::string& tables) {
  const std::string where = "the ColumnEmbedding's vocabulary column " + std::to_string(j);
  const auto name = e.is_object() ? e.find("name") : e.end();
  const auto kind = e.is_object() ? e.find("kind") : e.end();
  if (name == e.end() || kind == e.end() || !name->is_string() || !kind->is_string() ||
      (*kind != "category" && *kind != "number"))
    bad(where + " must be an object with a string 'name' and a 'kind' \"category\" or \"number\"");
  Column c;
  c.name = name->get<std::string>();
  c.category = *kind == "category";
  if (c.category) {
    const auto cats = e.find("categories");
    const auto dim = e.find("dim");
    if (cats == e.end() || !cats->is_array()) bad(where + " ('" + clip(c.name, 40) + "') lacks a 'categories' list");
    if (dim == e.end() || !dim->is_number_integer() || dim->get<std::int64_t>() < 1)
      bad(where + " ('" + clip(c.name, 40) + "') lacks an integer 'dim' >= 1");
    for (std::size_t k = 0; k < cats->size(); ++k) add_category(c, (*cats)[k], kFirst + Index(k), where);
    Index code = kFirst;  // the texts' codes, in the list's order (texts were appended in that order)
    std::size_t t = 0;
    for (std::size_t k = 0; k < cats->size(); ++k, ++code)
      if ((*cats)[k].is_string()) c.by_text.emplace(c.texts[t++], code);  // texts no longer grows: views stay valid
    tables += (tables.empty() ? "" : ",") + std::to_string(j) + ":" + std::to_string(cats->size() + kFirst) + "x" +
              dim->dump();
    return c;
  }
  if (const auto median = e.find("median"); median != e.end()) {
    double m = 0;
    if (!as_double(*median, m)) bad(where + " ('" + clip(c.name, 40) + "') has a 'median' that is not a finite number");
    c.fill = true, c.median = m;
  }
  return c;
}

std::shared_ptr<RawColumns::Impl> from_vocabulary(const std::string& text, Index n_in, const std::string& tables) {
  const json v = vocabulary_json(text);
  const auto list = v.is_object() ? v.find("columns") : v.end();
  if (list == v.end() || !list->is_array())
    bad("the ColumnEmbedding's vocabulary must be a JSON object with a 'columns' list");
  const auto fill = v.find("fill_missing");
  if (fill != v.end() && !fill->is_boolean())
    bad("the ColumnEmbedding's vocabulary has a 'fill_missing' that is not true or false");
  auto impl = std::make_shared<RawColumns::Impl>();
  std::string made;  // the tables the vocabulary implies ("j:VxD,...")
  for (std::size_t j = 0; j < list->size(); ++j) {
    impl->columns.push_back(read_column((*list)[j], j, made));
    for (std::size_t k = 0; k < j; ++k)
      if (impl->columns[k].name == impl->columns[j].name)
        bad("the ColumnEmbedding's vocabulary repeats the column '" + clip(impl->columns[j].name, 40) + "'");
  }
  Index width = Index(impl->columns.size());
  for (std::size_t j = 0; j < list->size(); ++j) {
    const auto flag = (*list)[j].find("indicator");
    if (flag != (*list)[j].end() && !flag->is_boolean())
      bad("the ColumnEmbedding's vocabulary column " + std::to_string(j) + " has an 'indicator' that is not a bool");
    if (!impl->columns[j].category && flag != (*list)[j].end() && flag->get<bool>())
      impl->columns[j].indicator = width++;  // without a median a missing cell is refused, as in Python
  }
  if (width != n_in || made != tables)
    bad("the ColumnEmbedding's vocabulary (" + std::to_string(width) + " inputs, tables '" + clip(made, 60) +
        "') does not match its n_in " + std::to_string(n_in) + " and tables '" + clip(tables, 60) + "'");
  for (const Column& c : impl->columns) impl->names.push_back(c.name);
  impl->width = width;
  return impl;
}

const LayerConfig* column_embedding(const std::vector<LayerConfig>& layers) {
  for (std::size_t i = 0; i < layers.size() && i < 2; ++i)
    if (layers[i].type == "ColumnEmbedding") return &layers[i];
  return nullptr;
}

std::string text_field(const LayerConfig& c, const char* key) {
  const ConfigValue* v = c.find(key);
  return v && v->kind == ConfigValue::Kind::Text ? v->text : std::string();
}

[[noreturn]] void bad_cell(std::size_t row, const std::string& column, const std::string& why) {
  throw std::invalid_argument(why + " (row " + std::to_string(row) + ", column '" + clip(column, 60) + "')");
}

}  // namespace

const std::vector<std::string_view>& missing_cells() {
  static const std::vector<std::string_view> kMarkers = {
      "",     "NA",   "N/A",  "n/a",      "NaN", "-NaN",    "nan",      "-nan",   "None",   "NULL",
      "null", "<NA>", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "1.#IND", "1.#QNAN"};
  return kMarkers;
}

bool is_missing_cell(std::string_view cell) {
  if (cell.size() > 8) return false;
  for (const std::string_view m : missing_cells())
    if (cell == m) return true;
  return false;
}

RawColumns RawColumns::of(const std::vector<LayerConfig>& layers, Index n_inputs,
                          const std::vector<std::string>& feature_names) {
  RawColumns out;
  if (const LayerConfig* e = column_embedding(layers)) {
    const std::string vocabulary = text_field(*e, "vocabulary");
    const ConfigValue* n_in = e->find("n_in");
    if (vocabulary.empty()) {  // made in C++: its codes come encoded
      auto impl = std::make_shared<Impl>();
      impl->described = false;
      out.impl_ = std::move(impl);
      return out;
    }
    if (!n_in || n_in->kind != ConfigValue::Kind::Integer) bad("the ColumnEmbedding has no integer n_in");
    out.impl_ = from_vocabulary(vocabulary, n_in->integer, text_field(*e, "tables"));
    return out;
  }
  auto impl = std::make_shared<Impl>();
  impl->names = feature_names;
  impl->width = n_inputs;
  for (Index j = 0; j < n_inputs; ++j) {
    Impl::Column c;
    c.name = feature_names.empty() ? std::to_string(j) : feature_names[std::size_t(j)];  // a message's "column '2'"
    impl->columns.push_back(std::move(c));
  }
  out.impl_ = std::move(impl);
  return out;
}

std::size_t RawColumns::size() const { return impl_ ? impl_->columns.size() : 0; }
Index RawColumns::width() const { return impl_ ? impl_->width : 0; }
const std::vector<std::string>& RawColumns::names() const {
  static const std::vector<std::string> none;
  return impl_ ? impl_->names : none;
}
bool RawColumns::can_encode() const { return impl_ && impl_->described; }

template <class T>
void RawColumns::encode(const std::string_view* cells, std::size_t n_cells, std::size_t row, T* out) const {
  if (!can_encode())
    throw std::invalid_argument(
        "this model's ColumnEmbedding has no vocabulary (made in C++?): it takes rows already encoded");
  if (n_cells != impl_->columns.size())
    throw std::invalid_argument("row " + std::to_string(row) + " has " + std::to_string(n_cells) +
                                " cells but the model takes " + std::to_string(impl_->columns.size()) + " raw columns");
  for (std::size_t j = 0; j < n_cells; ++j) {
    const Impl::Column& c = impl_->columns[j];
    const std::string_view cell = cells[j];
    if (c.category) {
      out[j] = T(impl_->code_of(c, cell));
      continue;
    }
    const bool missing = is_missing_cell(cell);
    std::int64_t i = 0;
    double x = 0;
    if (missing) {
      if (!c.fill) bad_cell(row, c.name, "a missing value, and the model has no fill_missing to fill it");
      x = c.median;
    } else {
      const Num n = read_number(cell, i, x);
      if (n == Num::kInteger) x = double(i);
      if (n == Num::kInfinite) bad_cell(row, c.name, "'" + clip(cell, 40) + "' is infinite");
      if (n == Num::kNone) {
        const int b = bool_cell(cell);
        if (b < 0) bad_cell(row, c.name, "'" + clip(cell, 40) + "' is not a number");
        x = b;
      }
    }
    out[j] = T(x);
    if (c.indicator >= 0) out[c.indicator] = T(missing ? 1 : 0);
  }
}

template void RawColumns::encode<float>(const std::string_view*, std::size_t, std::size_t, float*) const;
template void RawColumns::encode<double>(const std::string_view*, std::size_t, std::size_t, double*) const;

// ------------------------------------------------------------------ Model<T> on raw rows

template <class T>
Matrix<T> Model<T>::encode_rows(const std::vector<RawRow>& rows) const {
  if (rows.empty()) throw std::invalid_argument("encode_rows: no rows");
  Matrix<T> X(Index(rows.size()), columns.width());
  for (std::size_t i = 0; i < rows.size(); ++i)
    columns.encode(rows[i].data(), rows[i].size(), i, X.row(Index(i)).data());
  return X;
}

template <class T>
MatrixMap<T> Model<T>::predict_rows(const std::vector<RawRow>& rows) {
  const Matrix<T> X = encode_rows(rows);
  return network.forward(X);
}

template <class T>
std::vector<std::string> Model<T>::predict_class_rows(const std::vector<RawRow>& rows) {
  const Matrix<T> X = encode_rows(rows);
  return predict_class(X);
}

template Matrix<float> Model<float>::encode_rows(const std::vector<RawRow>&) const;
template Matrix<double> Model<double>::encode_rows(const std::vector<RawRow>&) const;
template MatrixMap<float> Model<float>::predict_rows(const std::vector<RawRow>&);
template MatrixMap<double> Model<double>::predict_rows(const std::vector<RawRow>&);
template std::vector<std::string> Model<float>::predict_class_rows(const std::vector<RawRow>&);
template std::vector<std::string> Model<double>::predict_class_rows(const std::vector<RawRow>&);

}  // namespace fastmlp
