// Raw rows: the cells of a CSV row as text, turned into the network's input row as Python's
// fastmlp.tabular.Columns.encode turns a DataFrame's row (the one reader of a model file's column
// description, for C++ and the C API; Model<T>::encode_rows in fastmlp/serialize.hpp uses it).
//
// The raw columns are what a DataFrame had at the model's first fit: a model with a ColumnEmbedding
// keeps them in its "vocabulary" (names, kinds, categories, medians, missing indicators); a model of
// numbers only has one numeric column per input, named by its feature names when the file has them.
// A row of raw cells (one per raw column, in that order) becomes the network's row:
//   numeric column   the cell as a number ("1.5", " 2 ", "1e-3"; "True" / "False" in any case as
//                    1 / 0, as pandas reads a bool column). A missing cell (below): the column's
//                    median when the model has fill_missing, else an error. Its missing indicator
//                    (1 / 0) goes after the raw columns, as "<name>_na".
//   category column  its code: 1 for a missing cell; 2 + i for the i-th category; else 0 (out of
//                    vocabulary). A cell is the i-th category when it is a text category's exact text,
//                    or reads as a number (as above, not "True"/"False") equal in value to a number
//                    category (1, 1.0 and "1.0" are the category 1), or reads as "True" / "False" (any
//                    case) for a bool category. Text is compared exactly (no trimming, no case folding).
// A missing cell is one that pandas' read_csv reads as missing by default: "", "NA", "N/A", "n/a",
// "NaN", "-NaN", "nan", "-nan", "None", "NULL", "null", "<NA>", "#N/A", "#N/A N/A", "#NA", "-1.#IND",
// "-1.#QNAN", "1.#IND", "1.#QNAN" (exactly: " NA" is text). So a CSV row gives what
// fm.load(path).predict(pd.read_csv(csv)) gives, except where pandas decides by the whole column:
// a text category column of digits ("01") that pandas reads as numbers (read it with dtype=str, as
// `python -m fastmlp predict` does), and "True" / "False" in a numeric column beside other numbers
// (pandas: an object column, an error). Numbers read as by std::from_chars (correctly rounded; pandas'
// default parser can differ in the last bit); "inf", "1e999" and the like are an error, as in Python.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fastmlp/layer.hpp"

namespace fastmlp {

// One raw row: a cell per raw column (what a CSV line holds, unquoted).
using RawRow = std::vector<std::string_view>;

class RawColumns {
 public:
  RawColumns() = default;  // no columns: encode refuses every row

  // The raw columns of a network with these layer configs (Network::configs()) and n_inputs inputs;
  // feature_names: the file's (may be empty). Throws std::invalid_argument ("not a valid fastmlp model
  // file: ...") when the ColumnEmbedding's vocabulary is malformed or does not match its tables; time
  // and memory are linear in its size.
  static RawColumns of(const std::vector<LayerConfig>& layers, Index n_inputs,
                       const std::vector<std::string>& feature_names);

  std::size_t size() const;  // raw cells per row
  Index width() const;       // the network's inputs per row
  // The raw columns' names (the CSV header's); empty for a numeric model whose file has no names.
  const std::vector<std::string>& names() const;
  // Whether rows of text can be encoded (false for a ColumnEmbedding made in C++ without vocabulary).
  bool can_encode() const;

  // Writes the network's row for `n_cells` raw cells into out[0, width()). `row` only names the row in
  // messages. Throws std::invalid_argument naming the row and column: a wrong number of cells, a cell of a
  // numeric column that is not a number (or is missing without fill_missing, or infinite). Allocates
  // nothing unless it throws.
  template <class T>
  void encode(const std::string_view* cells, std::size_t n_cells, std::size_t row, T* out) const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;  // shared: a Model is copied cheaply; read-only once made
};

// The cells pandas' read_csv reads as missing by default (the list above), and whether `cell` is one.
// ONNX's LabelEncoder maps them to the missing code too (Python's fm.onnx reads this list).
const std::vector<std::string_view>& missing_cells();
bool is_missing_cell(std::string_view cell);

}  // namespace fastmlp
