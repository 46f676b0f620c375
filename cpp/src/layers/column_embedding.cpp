// ColumnEmbedding (fastai's tabular model input): a row of n_in values of which k columns hold
// integer codes (categorical columns) and the other p = n_in - k numbers pass through; each code
// column j has its own table E_j (V_j x D_j):
//   y[i] = [ x[i, numeric columns in order] | E_1[x[i, c_1]] | ... | E_k[x[i, c_k]] ]
//                                                  (m x n_in -> m x (p + D_1 + ... + D_k))
//   backward: dE_j[v] = sum of dy[i, block j] over the rows i with x[i, c_j] = v;
//             dx = dy at the numeric columns, 0 at the code columns (codes are not differentiable).
// It stands first, or after a first Normalization (which then passes the codes unchanged: mean 0,
// variance 1 on those columns); the codes are checked with the inputs when it is first
// (check_inputs) and by the engine's gather otherwise (the CPU refuses a bad code, CUDA gives NaN).
// Python maps strings to codes (code 0: out of vocabulary, 1: missing, 2..: the vocabulary) and
// keeps that vocabulary in "vocabulary", which this layer carries through the file unread (the
// raw-row reader, fastmlp/raw_rows.hpp, reads it to encode text cells as Python does).
// Config: {"type": "ColumnEmbedding", "n_in": 5, "tables": "1:12x6,3:4x3"[, "vocabulary": "..."]}
//   "tables": "column:VxD" for each code column, columns increasing ("": none, numbers pass through).
#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastmlp/layer.hpp"
#include "fastmlp/random.hpp"

namespace fastmlp {

namespace {

constexpr Index kMaxSide = (Index(1) << 31) - 1;
constexpr Index kMaxParams = Index(1) << 40;
constexpr Index kMaxCodes32 = Index(1) << 24;  // the integers float32 holds exactly

struct Table {
  Index column = 0, V = 0, D = 0, offset = 0;  // offset: of its block in the output row
};

// "c:VxD,c:VxD": the code columns, increasing, each with its table's shape.
std::vector<Table> parse_tables(const std::string& text, Index n_in, bool f32, const std::string& where) {
  std::vector<Table> tables;
  const auto bad = [&](const std::string& why) {
    throw std::invalid_argument(where + ".tables " + why + " (expected \"column:VxD,...\", got '" + text.substr(0, 60) +
                                "')");
  };
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find(',', at), text.size());
    long long c = -1, V = 0, D = 0;
    int used = 0;
    const std::string part = text.substr(at, end - at);
    if (part.empty() || !std::isdigit(static_cast<unsigned char>(part[0])) || end + 1 == text.size() ||
        part.find_first_not_of("0123456789:x") != std::string::npos ||
        std::sscanf(part.c_str(), "%lld:%lldx%lld%n", &c, &V, &D, &used) != 3 || std::size_t(used) != part.size())
      bad("is malformed");
    if (c < 0 || c >= n_in) bad("names column " + std::to_string(c) + " of " + std::to_string(n_in));
    if (!tables.empty() && c <= tables.back().column) bad("must list the columns in increasing order");
    if (V < 1 || V > kMaxSide || D < 1 || D > kMaxSide) bad("has a table size out of [1, 2^31 - 1]");
    if (f32 && V > kMaxCodes32) bad("has more than 2^24 codes in a column (float32 does not hold them exactly)");
    tables.push_back({Index(c), Index(V), Index(D), 0});
    at = end + 1;
  }
  return tables;
}

template <class T>
class ColumnEmbedding final : public Layer<T> {
 public:
  ColumnEmbedding(const LayerConfig& c, Index n_in, const std::string& where) {
    ConfigReader r(c, where);
    const Index given = r.integer("n_in", 1, kMaxSide, n_in > 0 ? n_in : 0);
    text_ = r.text("tables", "");
    vocabulary_ = r.text("vocabulary", "");
    r.finish();
    if (n_in > 0 && given != n_in)
      throw std::invalid_argument(where + " takes " + std::to_string(given) + " inputs but the layer before it gives " +
                                  std::to_string(n_in) + " outputs");
    tables_ = parse_tables(text_, given, sizeof(T) == 4, where);
    // The numeric columns as runs [begin, end) between the code columns.
    Index begin = 0, params = 0;
    for (const Table& t : tables_) {
      if (t.column > begin) runs_.push_back({begin, t.column});
      begin = t.column + 1;
    }
    if (begin < given) runs_.push_back({begin, given});
    p_ = given - Index(tables_.size());
    Index out = p_;
    for (Table& t : tables_) {
      t.offset = out, out += t.D, params += t.V * t.D;
      if (out > kMaxSide || params > kMaxParams)
        throw std::invalid_argument(where + ": the tables are too large (at most 2^31 - 1 outputs, 2^40 parameters)");
    }
    this->n_in_ = given;
    this->n_out_ = out;
  }
  const char* type() const override { return "ColumnEmbedding"; }
  LayerConfig config() const override {
    LayerConfig c{"ColumnEmbedding", {}, {}, false};
    c.set("n_in", ConfigValue::of(std::int64_t(this->n_in_))).set("tables", ConfigValue::of(text_));
    if (!vocabulary_.empty()) c.set("vocabulary", ConfigValue::of(vocabulary_));
    return c;
  }
  Index num_params() const override {
    Index n = 0;
    for (const Table& t : tables_) n += t.V * t.D;
    return n;
  }
  void tensors(const std::string& prefix, std::vector<TensorSlot>& out) const override {
    Index at = this->param_offset_;
    for (std::size_t j = 0; j < tables_.size(); ++j) {
      out.push_back({prefix + "embeddings_" + std::to_string(j), {tables_[j].V, tables_[j].D}, false, at});
      at += tables_[j].V * tables_[j].D;
    }
  }
  // Keras's Embedding default: uniform in [-0.05, 0.05].
  void init(T* params, T*, Rng& rng) const override {
    T* E = params + this->param_offset_;
    for (Index i = 0; i < num_params(); ++i) E[i] = T((2.0 * rng.uniform() - 1.0) * 0.05);
  }
  void bind(T* params, T* grads, T*) override { E_ = params + this->param_offset_, dE_ = grads + this->param_offset_; }
  void check_inputs(const T* X, Index m, Index ldx) const override {
    for (const Table& t : tables_)
      for (Index i = 0; i < m; ++i) {
        const T v = X[i * ldx + t.column];
        if (v >= T(0) && v < T(t.V) && v == std::floor(v)) continue;
        char shown[32];
        std::snprintf(shown, sizeof shown, "%.10g", double(v));
        throw std::invalid_argument("X[:, " + std::to_string(t.column) + "] holds " + shown + " at row " +
                                    std::to_string(i) + ": a ColumnEmbedding takes integer codes in [0, " +
                                    std::to_string(t.V) + ") in that column");
      }
  }
  bool strided_input() const override { return true; }

  // Strided ops, never a copy per row: each numeric run is one 2-D copy and each table one gather
  // (y's block at t.offset, row stride n_out), so a pass costs runs + tables calls at any batch
  // size (on CUDA: that many launches, each output element written by one thread).
  const T* forward(Pass<T>& p, const T* x, Index ldx) override {
    const Index n_out = this->n_out_;
    y_.reserve(p.ops, p.m * n_out);
    T* y = y_.data();
    for (const auto& [b, e] : runs_) p.ops.copy_rows(x + b, ldx, y + (b - codes_before(b)), n_out, p.m, e - b);
    Index row = 0;
    for (const Table& t : tables_) {
      p.ops.gather_rows(x + t.column, p.m, 1, ldx, E_ + row, t.V, t.D, y + t.offset, n_out);
      row += t.V * t.D;
    }
    return y;
  }
  // dE_j from dy's block j read in place (row stride n_out), or with SGD E_j -= rate dE_j.
  void backward(Pass<T>& p, const T* x, Index ldx, T* dy, T* dx) override {
    const Index n_out = this->n_out_;
    Index row = 0;
    for (const Table& t : tables_) {
      const T* block = dy + t.offset;
      if (p.sgd_rate > T(0))
        p.ops.scatter_add_rows(x + t.column, p.m, 1, ldx, block, n_out, t.V, t.D, -p.sgd_rate, T(1), E_ + row);
      else
        p.ops.scatter_add_rows(x + t.column, p.m, 1, ldx, block, n_out, t.V, t.D, T(1), T(0), dE_ + row);
      row += t.V * t.D;
    }
    if (!dx) return;
    const Index n_in = this->n_in_;
    // dx = 0 (scatter_add_rows with no rows and beta 0 overwrites its m x n_in "table" with zeros),
    // then the numeric columns' dy.
    p.ops.scatter_add_rows(x, 0, 1, ldx, dy, n_out, p.m, n_in, T(1), T(0), dx);
    for (const auto& [b, e] : runs_) p.ops.copy_rows(dy + (b - codes_before(b)), n_out, dx + b, n_in, p.m, e - b);
  }

 private:
  // The code columns before column b: b minus this is b's place among the numeric columns.
  Index codes_before(Index b) const {
    Index n = 0;
    for (const Table& t : tables_) n += t.column < b;
    return n;
  }
  std::string text_, vocabulary_;
  std::vector<Table> tables_;
  std::vector<std::pair<Index, Index>> runs_;
  Index p_ = 0;  // numeric columns
  T *E_ = nullptr, *dE_ = nullptr;
  Buffer<T> y_;
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_column_embedding(const LayerConfig& c, Index n_in, const std::string& where) {
  return std::make_unique<ColumnEmbedding<T>>(c, n_in, where);
}
template std::unique_ptr<Layer<float>> make_column_embedding<float>(const LayerConfig&, Index, const std::string&);
template std::unique_ptr<Layer<double>> make_column_embedding<double>(const LayerConfig&, Index, const std::string&);

}  // namespace fastmlp
