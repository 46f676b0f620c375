// Reading and writing model files (the layout: serialize.hpp). JSON goes through nlohmann/json.
// The header is read with its SAX interface straight into flat tables (strings copied once into
// one buffer), so time is O(n log n) and memory a small multiple of the header whatever it holds;
// the small JSON values inside the metadata ("layers", "l2", "seed") become bounded trees.
#include "fastmlp/serialize.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#if defined(_WIN32)
#include <fstream>
#else
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#ifndef FASTMLP_VERSION
#error "FASTMLP_VERSION must be defined by the build (CMakeLists.txt passes pyproject.toml's version)"
#endif

namespace fastmlp {

namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr int kMaxDepth = 16;                  // nesting of the header (a valid one needs 3)
constexpr std::size_t kMaxMetadata = 4096;     // __metadata__ entries (fastmlp writes about ten)
constexpr std::size_t kMaxDims = 8;            // dimensions of a tensor
constexpr std::uint64_t kMaxDim = 2147483647;  // layer sizes: 2^31 - 1
const char* const kOwnKeys[] = {"fastmlp_format", "fastmlp_version", "dtype", "loss", "l2", "layers"};

// At most n bytes of s for a message, cut at a UTF-8 character boundary.
std::string clip(std::string_view s, std::size_t n) {
  if (s.size() <= n) return std::string(s);
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

[[noreturn]] void bad(const std::string& msg) { throw std::invalid_argument("not a valid fastmlp model file: " + msg); }

// f(); a std::invalid_argument from it makes the file invalid, with `where` before its message.
template <class F>
auto or_bad(const std::string& where, F f) {
  try {
    return f();
  } catch (const std::invalid_argument& e) {
    bad(where + e.what());
  }
}

[[noreturn]] void sys_error(const std::string& what, const std::string& path) {
  throw std::system_error(errno, std::generic_category(), what + " '" + path + "'");
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix, and with the bytes
// >= 0x80 of the token it quotes as \xNN (they may not be UTF-8, and messages must be).
std::string json_error(const std::exception& e) {
  std::string m = e.what();
  const std::size_t close = m.find("] ");
  if (close != std::string::npos) m.erase(0, close + 2);
  std::string out;
  for (const char c : m) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", unsigned(u));
      out += buf;
    }
  }
  return out;
}

// ------------------------------------------------------------------ small JSON values

// A JSON value from a metadata string as a tree. Refused (with `what` in the message) when it
// nests deeper than max_depth, when the outermost container holds more than root_items entries
// or an inner one more than 16, or when an object repeats a key: the tree stays small.
class TreeBuilder {
 public:
  TreeBuilder(std::string what, int max_depth, std::size_t root_items)
      : what_(std::move(what)), max_depth_(max_depth), root_items_(root_items) {}

  json root;
  std::string error;

  bool null() { return put(nullptr); }
  bool boolean(bool v) { return put(v); }
  bool number_integer(json::number_integer_t v) { return put(v); }
  bool number_unsigned(json::number_unsigned_t v) { return put(v); }
  bool number_float(json::number_float_t v, const std::string&) { return put(v); }
  bool string(std::string& v) { return put(std::move(v)); }
  bool binary(json::binary_t&) { return fail(what_ + " is not JSON text"); }
  bool start_object(std::size_t) { return open(json::object()); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool key(std::string& k) {
    json& object = *stack_.back();
    if (object.contains(k)) return fail(what_ + " repeats the key \"" + clip(k, 40) + "\"");
    if (!room(object)) return false;
    slot_ = &object[k];
    return true;
  }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& e) {
    return fail(what_ + " is not valid JSON (" + json_error(e) + ")");
  }

 private:
  bool fail(std::string msg) {
    error = std::move(msg);
    return false;
  }
  bool room(const json& container) {
    const std::size_t cap = stack_.size() == 1 ? root_items_ : 16;
    if (container.size() < cap) return true;
    return fail(what_ + " has more than " + std::to_string(cap) + " entries in one " +
                (container.is_array() ? "array" : "object"));
  }
  // Places v in the open container (or as the root); the new value, or null when refused.
  json* place(json v) {
    if (int(stack_.size()) + 1 > max_depth_) {
      fail(what_ + " nests deeper than " + std::to_string(max_depth_) + " levels");
      return nullptr;
    }
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    json& top = *stack_.back();
    if (top.is_object()) {
      *slot_ = std::move(v);
      return slot_;
    }
    if (!room(top)) return nullptr;
    top.push_back(std::move(v));  // no reallocation while a child is open: it is filled first
    return &top.back();
  }
  bool put(json v) { return place(std::move(v)) != nullptr; }
  bool open(json v) {
    json* p = place(std::move(v));
    if (p) stack_.push_back(p);
    return p != nullptr;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  std::string what_;
  int max_depth_;
  std::size_t root_items_;
  std::vector<json*> stack_;
  json* slot_ = nullptr;
};

json parse_value(std::string_view text, const std::string& what, int max_depth, std::size_t root_items) {
  TreeBuilder tree(what, max_depth, root_items);
  if (!json::sax_parse(text.begin(), text.end(), &tree)) bad(tree.error);
  return std::move(tree.root);
}

bool as_uint64(const json& v, std::uint64_t& out) {
  if (!v.is_number_unsigned()) return false;  // the parser makes every non-negative integer unsigned
  out = v.get<std::uint64_t>();
  return true;
}

bool as_double(const json& v, double& out) {
  if (!v.is_number()) return false;
  out = v.get<double>();
  return std::isfinite(out);
}

std::string describe(const json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  return clip(v.dump(), 40);
}

// ------------------------------------------------------------------ the header

enum class DType : std::uint8_t { F32, F64 };

struct TensorInfo {
  std::string_view name;
  std::uint64_t begin = 0, end = 0;
  std::uint32_t dims_at = 0;  // its first dimension in Header::dims
  std::uint8_t ndim = 0;
  DType dtype = DType::F32;
};

// The strings of a header, copied once into one buffer reserved to the header's size (a decoded
// JSON string is never longer than its text), so it never moves and views into it stay valid.
class Arena {
 public:
  explicit Arena(std::size_t capacity) { buf_.reserve(capacity); }
  std::string_view add(const std::string& s) {
    if (s.size() > buf_.capacity() - buf_.size()) throw std::logic_error("fastmlp: header arena overflow");
    const std::size_t at = buf_.size();
    buf_.insert(buf_.end(), s.begin(), s.end());
    return {buf_.data() + at, s.size()};
  }

 private:
  std::vector<char> buf_;
};

struct Header {
  explicit Header(std::size_t text_size) : arena(text_size) {}
  Arena arena;
  std::vector<std::pair<std::string_view, std::string_view>> meta;
  std::vector<TensorInfo> tensors;
  std::vector<const TensorInfo*> by_name;  // sorted, for lookups
  std::vector<std::uint64_t> dims;

  const std::string_view* get(std::string_view key) const {
    for (const auto& kv : meta)
      if (kv.first == key) return &kv.second;
    return nullptr;
  }
  const TensorInfo* tensor(std::string_view name) const {
    auto it = std::lower_bound(by_name.begin(), by_name.end(), name,
                               [](const TensorInfo* t, std::string_view n) { return t->name < n; });
    return it != by_name.end() && (*it)->name == name ? *it : nullptr;
  }
  bool shape_is(const TensorInfo& t, std::initializer_list<std::uint64_t> want) const {
    return t.ndim == want.size() && std::equal(want.begin(), want.end(), dims.begin() + t.dims_at);
  }
};

// SAX events of the header -> Header. A header is {"__metadata__": {string: string, ...},
// name: {"dtype": .., "shape": [..], "data_offsets": [b, e]}, ...}; the first departure from that
// is remembered and the rest only scanned, so that broken JSON is reported as such. Too deep
// nesting or too many metadata entries stop the parse at once.
class HeaderReader {
 public:
  HeaderReader(Header& h, std::uint64_t data_size) : h_(h), data_size_(data_size) {}

  std::string syntax_error, limit_error, error;
  bool have_meta() const { return have_meta_; }

  bool null() { return scalar("null"); }
  bool boolean(bool v) { return scalar(v ? "true" : "false"); }
  bool number_integer(json::number_integer_t v) { return number(false, 0, std::to_string(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return number(true, v, std::to_string(v)); }
  bool number_float(json::number_float_t, const std::string& text) { return number(false, 0, text); }
  bool binary(json::binary_t&) { return scalar("binary data"); }

  bool string(std::string& s) {
    if (skipping()) return true;
    if (at_ == At::MetaString) {
      h_.meta.emplace_back(pending_key_, h_.arena.add(s));
      at_ = At::InMeta;
      return true;
    }
    if (at_ == At::TensorField && field_ == Field::DType) {
      if (s == "F32" || s == "F64") {
        tensor().dtype = s == "F32" ? DType::F32 : DType::F64;
        at_ = At::InTensor;
        return true;
      }
      return wrong("\"" + clip(s, 20) + "\"");
    }
    return wrong("a string");
  }

  bool start_object(std::size_t) {
    if (!enter()) return false;
    if (skipping()) return true;
    if (at_ == At::Start)
      at_ = At::Top;
    else if (at_ == At::MetaValue)
      at_ = At::InMeta;
    else if (at_ == At::TensorValue)
      at_ = At::InTensor;
    else
      return wrong("an object");
    return true;
  }

  bool key(std::string& k) {
    if (skipping()) return true;
    if (at_ == At::Top) {
      if (k == "__metadata__") {
        if (have_meta_) return fail("the header repeats the key \"__metadata__\"");
        have_meta_ = true;
        at_ = At::MetaValue;
      } else {
        h_.tensors.emplace_back();
        tensor().name = h_.arena.add(k);
        seen_ = 0;
        at_ = At::TensorValue;
      }
    } else if (at_ == At::InMeta) {
      if (h_.meta.size() >= kMaxMetadata)
        return stop(limit_error, "__metadata__ has more than " + std::to_string(kMaxMetadata) + " entries");
      pending_key_ = h_.arena.add(k);
      at_ = At::MetaString;
    } else {                                                            // At::InTensor
      const char* const fields[] = {"dtype", "shape", "data_offsets"};  // in Field's order
      const auto f = std::find(std::begin(fields), std::end(fields), k);
      if (f == std::end(fields))
        return fail(tensor_name() + " must be an object with exactly dtype, shape and data_offsets");
      field_ = Field(f - std::begin(fields));
      const unsigned bit = 1u << unsigned(field_);
      if (seen_ & bit) return fail("the header repeats the key \"" + k + "\" in " + tensor_name());
      seen_ |= bit;
      at_ = At::TensorField;
    }
    return true;
  }

  bool end_object() {
    --depth_;
    if (skipping()) return true;
    if (at_ == At::InMeta)
      at_ = At::Top;
    else if (at_ == At::InTensor)
      return finish_tensor();
    else
      at_ = At::Done;  // At::Top
    return true;
  }

  bool start_array(std::size_t) {
    if (!enter()) return false;
    if (skipping()) return true;
    if (at_ == At::TensorField && field_ == Field::Shape) {
      tensor().dims_at = std::uint32_t(h_.dims.size());
      at_ = At::InShape;
    } else if (at_ == At::TensorField && field_ == Field::Offsets) {
      offsets_seen_ = 0;
      at_ = At::InOffsets;
    } else {
      return wrong("an array");
    }
    return true;
  }

  bool end_array() {
    --depth_;
    if (skipping()) return true;
    if (at_ == At::InOffsets && offsets_seen_ != 2) return fail(offsets_message());
    at_ = At::InTensor;
    return true;
  }

  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& e) {
    return stop(syntax_error, "the header is not valid JSON (" + json_error(e) + ")");
  }

 private:
  enum class At {
    Start,
    Top,
    MetaValue,
    InMeta,
    MetaString,
    TensorValue,
    InTensor,
    TensorField,
    InShape,
    InOffsets,
    Done
  };
  enum class Field { DType, Shape, Offsets };

  bool skipping() const { return !error.empty(); }
  bool stop(std::string& slot, std::string msg) {
    slot = std::move(msg);
    return false;
  }
  bool fail(std::string msg) {  // remembered; the parse goes on to check the JSON itself
    if (error.empty()) error = std::move(msg);
    return true;
  }
  bool enter() {
    if (++depth_ <= kMaxDepth) return true;
    return stop(limit_error, "the header nests deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  TensorInfo& tensor() { return h_.tensors.back(); }
  std::string tensor_name() { return "tensor '" + clip(tensor().name, 60) + "'"; }
  std::string offsets_message() {
    return tensor_name() + " has data_offsets outside the " + std::to_string(data_size_) + " data bytes";
  }

  bool number(bool is_unsigned, std::uint64_t v, const std::string& text) {
    if (skipping()) return true;
    if (at_ == At::InShape) {
      if (!is_unsigned || tensor().ndim == kMaxDims)
        return fail(tensor_name() + " has an invalid shape (entry " + clip(text, 40) + ")");
      h_.dims.push_back(v);
      ++tensor().ndim;
      return true;
    }
    if (at_ == At::InOffsets) {
      if (!is_unsigned || offsets_seen_ == 2) return fail(offsets_message());
      (offsets_seen_++ == 0 ? tensor().begin : tensor().end) = v;
      return true;
    }
    return wrong(text);
  }

  bool scalar(const char* what) { return skipping() || wrong(what); }

  // The value `seen` where the header needs something else.
  bool wrong(const std::string& seen) {
    switch (at_) {
      case At::Start: return fail("the header is not a JSON object");
      case At::MetaValue:
      case At::InMeta:
      case At::MetaString: return fail("__metadata__ must map strings to strings");
      case At::TensorValue:
      case At::InTensor: return fail(tensor_name() + " must be an object with exactly dtype, shape and data_offsets");
      case At::InShape: return fail(tensor_name() + " has an invalid shape (entry " + seen + ")");
      case At::InOffsets: return fail(offsets_message());
      case At::TensorField:
        if (field_ == Field::DType)
          return fail(tensor_name() + " has dtype " + seen + "; fastmlp files hold F32 or F64");
        if (field_ == Field::Shape) return fail(tensor_name() + " has an invalid shape");
        return fail(offsets_message());
      default: return fail("the header is not a JSON object");
    }
  }

  bool finish_tensor() {
    at_ = At::Top;
    if (seen_ != 7) return fail(tensor_name() + " must be an object with exactly dtype, shape and data_offsets");
    const TensorInfo& t = tensor();
    if (t.begin > t.end || t.end > data_size_) return fail(offsets_message());
    std::uint64_t nbytes = t.dtype == DType::F32 ? 4 : 8;
    bool overflow = false;
    for (std::uint32_t k = 0; k < t.ndim; ++k) {
      const std::uint64_t d = h_.dims[t.dims_at + k];
      if (d != 0 && nbytes > std::numeric_limits<std::uint64_t>::max() / d)
        overflow = true;
      else
        nbytes *= d;
    }
    if (overflow || t.end - t.begin != nbytes)
      return fail(tensor_name() + " needs " + (overflow ? std::string("more than 2^64") : std::to_string(nbytes)) +
                  " bytes for its shape, its data_offsets span " + std::to_string(t.end - t.begin));
    return true;
  }

  Header& h_;
  std::uint64_t data_size_;
  At at_ = At::Start;
  Field field_ = Field::DType;
  int depth_ = 0;
  bool have_meta_ = false;
  unsigned seen_ = 0;  // fields of the current tensor, one bit each
  int offsets_seen_ = 0;
  std::string_view pending_key_;
};

// Sorted views of the names in `items`; a repeated one is an error.
template <class T, class Name>
std::vector<const T*> sorted_unique(const std::vector<T>& items, Name name, const char* where) {
  std::vector<const T*> order;
  order.reserve(items.size());
  for (const T& item : items) order.push_back(&item);
  std::sort(order.begin(), order.end(), [&](const T* a, const T* b) { return name(*a) < name(*b); });
  for (std::size_t i = 1; i < order.size(); ++i)
    if (name(*order[i]) == name(*order[i - 1]))
      bad(std::string(where) + " repeats the key \"" + clip(name(*order[i]), 40) + "\"");
  return order;
}

void parse_header(const std::string& text, std::uint64_t data_size, Header& h) {
  HeaderReader reader(h, data_size);
  const bool ok = json::sax_parse(text.begin(), text.end(), &reader);
  if (!reader.syntax_error.empty()) bad(reader.syntax_error);
  if (!reader.limit_error.empty()) bad(reader.limit_error);
  if (!ok) bad("the header is not valid JSON");
  if (!reader.error.empty()) bad(reader.error);
  if (!reader.have_meta()) bad("the header has no __metadata__ (not written by fastmlp?)");
  sorted_unique(h.meta, [](const auto& kv) { return kv.first; }, "__metadata__");
  h.by_name = sorted_unique(h.tensors, [](const TensorInfo& t) { return t.name; }, "the header");
  // The tensors must tile the data exactly: no overlap, no gap, nothing after.
  std::vector<const TensorInfo*> order(h.by_name);
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t end = 0;
  for (const TensorInfo* t : order) {
    if (t->begin != end)
      bad("tensor '" + clip(t->name, 60) + "' " +
          (t->begin < end ? "overlaps the previous tensor" : "leaves a gap before it"));
    end = t->end;
  }
  if (end != data_size)
    bad("the tensors cover " + std::to_string(end) + " of the " + std::to_string(data_size) + " data bytes");
}

// ------------------------------------------------------------------ the architecture

struct Architecture {
  DType dtype = DType::F32;
  Loss loss = Loss::MeanSquaredError;
  double l2 = 0.0;
  std::vector<LayerSpec> layers;
  std::vector<const TensorInfo*> weights, biases;
  std::vector<std::vector<const TensorInfo*>> norms;  // per Dense: gamma, beta (, running mean, variance)
};

// The tensor names of a normalization entry (BatchNormalization keeps its running statistics).
std::vector<const char*> norm_tensors(Norm norm) {
  if (norm == Norm::Batch) return {"gamma", "beta", "running_mean", "running_var"};
  return {"gamma", "beta"};
}

double meta_number(std::string_view text, const std::string& key) {
  const json v = parse_value(text, "metadata '" + key + "'", 1, 0);
  double d;
  if (!as_double(v, d)) bad("metadata '" + key + "' must be a finite number, got " + describe(v));
  return d;
}

// Checked against the tensors: every Dense layer has its weight and bias with the right shapes
// and dtype, and there is nothing else.
Architecture read_architecture(const Header& h) {
  for (const char* key : {"fastmlp_format", "dtype", "loss", "layers"})
    if (!h.get(key)) bad(std::string("__metadata__ lacks ") + key + " (not written by fastmlp?)");
  if (*h.get("fastmlp_format") != kFormatVersion)
    bad("unsupported fastmlp_format '" + clip(*h.get("fastmlp_format"), 20) + "'; this fastmlp reads format '" +
        kFormatVersion + "' (a newer fastmlp wrote it?)");
  Architecture a;
  const std::string_view dtype = *h.get("dtype");
  if (dtype == "float32")
    a.dtype = DType::F32;
  else if (dtype == "float64")
    a.dtype = DType::F64;
  else
    bad("dtype '" + clip(dtype, 20) + "' must be 'float32' or 'float64'");
  a.loss = or_bad("", [&] { return loss_from_name(std::string(*h.get("loss"))); });
  if (const auto* l2 = h.get("l2")) {
    a.l2 = meta_number(*l2, "l2");
    if (a.l2 < 0) bad("l2 must be >= 0, got " + std::to_string(a.l2));
  }
  if (const auto* text = h.get("seed")) {  // Python's seed for initialisation and shuffling; checked, not used here
    const json seed = parse_value(*text, "metadata 'seed'", 1, 0);
    std::uint64_t unused;
    if (!as_uint64(seed, unused)) bad("seed must be an integer in [0, 2**64), got " + describe(seed));
  }
  // A Dense entry has two tensors and a Dropout follows a Dense: never more entries than tensors.
  const json layers = parse_value(*h.get("layers"), "metadata 'layers'", 4, std::max<std::size_t>(h.tensors.size(), 1));
  if (!layers.is_array() || layers.empty()) bad("metadata 'layers' must be a non-empty JSON list");
  bool prev_dense = false;
  std::size_t n_tensors = 0;
  // A tensor `name` of the model's dtype and shape {n...}.
  auto tensor_of = [&](const std::string& name, std::initializer_list<std::uint64_t> shape, const std::string& where) {
    const TensorInfo* t = h.tensor(name);
    if (!t) bad("tensor '" + name + "' is missing");
    if (t->dtype != a.dtype)
      bad("tensor '" + name + "' has dtype " + (t->dtype == DType::F32 ? "F32" : "F64") + " but the model's dtype is " +
          std::string(dtype));
    if (!h.shape_is(*t, shape)) bad("tensor '" + name + "' has the wrong shape for " + where);
    ++n_tensors;
    return t;
  };
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const json& e = layers[i];
    const std::string where = "layers[" + std::to_string(i) + "]";
    const auto type = e.is_object() ? e.find("type") : e.end();
    if (!e.is_object() || type == e.end() || !type->is_string()) bad(where + " must be an object with a 'type'");
    const std::string& kind = type->get_ref<const std::string&>();
    if (kind == "BatchNormalization" || kind == "LayerNormalization") {
      // follows a Dense (before its Dropout): {"type", "epsilon"[, "momentum"]} and its tensors
      if (!prev_dense || a.layers.back().dropout > 0.0 || a.layers.back().norm != Norm::None)
        bad(where + ": a " + kind + " must follow a Dense layer (before its Dropout)");
      LayerSpec& s = a.layers.back();
      s.norm = kind[0] == 'B' ? Norm::Batch : Norm::Layer;
      for (const auto& [k, v] : e.items()) {
        if (k == "type") continue;
        if ((k == "epsilon" || (k == "momentum" && s.norm == Norm::Batch)) &&
            as_double(v, k == "epsilon" ? s.norm_epsilon : s.norm_momentum))
          continue;
        bad(where + ": unknown field or not a number: '" + clip(k, 40) + "'");
      }
      or_bad(where + ": ", [&] { validate_layer(s); });
      for (const char* suffix : norm_tensors(s.norm))
        a.norms.back().push_back(
            tensor_of("layers." + std::to_string(i) + "." + suffix, {std::uint64_t(s.n_out)}, where));
      continue;
    }
    if (kind == "Dropout") {
      const auto rate = e.find("rate");
      double p;
      if (e.size() != 2 || rate == e.end() || !as_double(*rate, p) || p < 0 || p >= 1)
        bad(where + ": a Dropout needs exactly a 'rate' in [0, 1)");
      if (!prev_dense || a.layers.back().dropout > 0.0) bad(where + ": a Dropout must follow a Dense layer");
      a.layers.back().dropout = p;  // the Network checks that it is not the output layer
      prev_dense = false;
      continue;
    }
    if (kind != "Dense")
      bad(where + " has unknown type '" + clip(kind, 40) +
          "' (expected 'Dense', 'Dropout', 'BatchNormalization' or 'LayerNormalization')");
    LayerSpec s;
    bool alpha_given = false;
    for (const auto& [k, v] : e.items()) {
      if (k == "type") continue;
      if (k == "n_in" || k == "n_out") {
        std::uint64_t d;
        if (!as_uint64(v, d) || d < 1 || d > kMaxDim)
          bad(where + "." + k + " must be an integer in [1, " + std::to_string(kMaxDim) + "], got " + describe(v));
        (k == "n_in" ? s.n_in : s.n_out) = Index(d);
      } else if (k == "activation") {
        if (!v.is_string()) bad(where + ".activation must be a string, got " + describe(v));
        s.activation = or_bad(where + ": ", [&] { return activation_from_name(v.get<std::string>()); });
      } else if (k == "alpha") {
        if (v.is_null()) continue;  // the activation's default, filled in below
        if (!as_double(v, s.alpha)) bad(where + ".alpha must be a number or null, got " + describe(v));
        alpha_given = true;
      } else if (k == "init") {
        if (v.is_null()) continue;
        if (!v.is_string()) bad(where + ".init must be a string, got " + describe(v));
        s.init = or_bad(where + ": ", [&] { return init_from_name(v.get<std::string>()); });
      } else {
        bad(where + " has unknown fields: '" + clip(k, 40) + "'");
      }
    }
    if (s.n_in == 0 || s.n_out == 0) bad(where + " lacks n_in or n_out");
    if (!alpha_given) s.alpha = default_alpha(s.activation);
    const std::string p = "layers." + std::to_string(i);
    a.weights.push_back(tensor_of(p + ".weight", {std::uint64_t(s.n_in), std::uint64_t(s.n_out)}, where));
    a.biases.push_back(tensor_of(p + ".bias", {std::uint64_t(s.n_out)}, where));
    a.norms.emplace_back();
    a.layers.push_back(s);
    prev_dense = true;
  }
  if (a.layers.empty()) bad("the model has no Dense layer");
  if (n_tensors != h.tensors.size()) bad("the file holds unexpected tensors");
  return a;
}

// The tensor's values (type S in the file) into dst (the model's type T), all finite.
template <class T, class S>
void copy_tensor(const unsigned char* data, const TensorInfo& t, T* dst) {
  const std::size_t n = std::size_t((t.end - t.begin) / sizeof(S));
  const unsigned char* src = data + t.begin;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char b[sizeof(S)];
    std::memcpy(b, src + i * sizeof(S), sizeof(S));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    std::reverse(b, b + sizeof(S));
#endif
    S v;
    std::memcpy(&v, b, sizeof(S));
    // Checked after the conversion too: an F64 1e300 does not fit a float model.
    if (!std::isfinite(v) || !std::isfinite(T(v)))
      bad("tensor '" + clip(t.name, 60) + "' contains NaN or infinity (in the model's dtype)");
    dst[i] = T(v);
  }
}

template <class T>
Network<T> build_network(const Architecture& arch, const unsigned char* data) {
  Network<T> net = or_bad("", [&] { return Network<T>(arch.layers, arch.loss, T(arch.l2)); });
  for (Index l = 0; l < net.num_layers(); ++l) {
    std::vector<std::pair<const TensorInfo*, T*>> parts = {{arch.weights[std::size_t(l)], net.W(l).data()},
                                                           {arch.biases[std::size_t(l)], net.b(l).data()}};
    const auto& norm = arch.norms[std::size_t(l)];
    if (!norm.empty()) parts.insert(parts.end(), {{norm[0], net.gamma(l).data()}, {norm[1], net.beta(l).data()}});
    if (norm.size() == 4)
      parts.insert(parts.end(), {{norm[2], net.running_mean(l).data()}, {norm[3], net.running_var(l).data()}});
    for (const auto& [t, dst] : parts)
      arch.dtype == DType::F32 ? copy_tensor<T, float>(data, *t, dst) : copy_tensor<T, double>(data, *t, dst);
    if (norm.size() == 4 && (net.running_var(l).array() < T(0)).any())  // sqrt(var + eps) would be NaN
      bad("tensor '" + clip(norm[3]->name, 60) + "' holds a negative variance");
  }
  return net;
}

Metadata metadata_of(const Header& h) {
  Metadata m;
  for (const auto& [k, v] : h.meta) m.emplace(std::string(k), std::string(v));
  return m;
}

std::uint64_t read_le64(const unsigned char* b) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

// The header length from the first 8 bytes, checked against the file size before anything
// else is read.
std::uint64_t header_length(const unsigned char* first8, std::uint64_t size) {
  if (size < 8) bad("it has " + std::to_string(size) + " bytes, fewer than the 8-byte header length");
  const std::uint64_t n = read_le64(first8);
  if (n > size - 8)
    bad("the header length " + std::to_string(n) + " is larger than the " + std::to_string(size - 8) +
        " bytes after it (truncated file?)");
  if (n > kMaxHeaderBytes)
    bad("the header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderBytes) +
        " bytes");
  if (n < 2) bad("the header length " + std::to_string(n) + " is too small for a JSON object");
  return n;
}

// ------------------------------------------------------------------ files

#if defined(_WIN32)
class InputFile {
 public:
  explicit InputFile(const std::string& path) : in_(path, std::ios::binary) {
    if (!in_) sys_error("cannot open", path);
    in_.seekg(0, std::ios::end);
    const std::streamoff end = in_.tellg();
    in_.seekg(0, std::ios::beg);
    if (end < 0) sys_error("cannot read", path);
    size_ = std::uint64_t(end);
  }
  std::uint64_t size() const { return size_; }
  bool read(void* buf, std::size_t n) { return bool(in_.read(static_cast<char*>(buf), std::streamsize(n))); }

 private:
  std::ifstream in_;
  std::uint64_t size_ = 0;
};
#else
class InputFile {
 public:
  explicit InputFile(const std::string& path) : path_(path) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
    fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) sys_error("cannot open", path);
    struct stat st;
    if (::fstat(fd_, &st) != 0) fail("cannot read");
    if (!S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw std::invalid_argument("cannot load '" + path + "': not a regular file (a folder, device, FIFO or socket)");
    }
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK) != 0) fail("cannot read");
    size_ = std::uint64_t(st.st_size);
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  std::uint64_t size() const { return size_; }
  // False when the file ends first.
  bool read(void* buf, std::size_t n) {
    char* p = static_cast<char*>(buf);
    while (n > 0) {
      const ssize_t got = ::read(fd_, p, n);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail("cannot read");
      if (got == 0) return false;
      p += got;
      n -= std::size_t(got);
    }
    return true;
  }

 private:
  [[noreturn]] void fail(const char* what) {
    const int err = errno;
    ::close(fd_);
    errno = err;
    sys_error(what, path_);
  }
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};
#endif

// A model file read and checked: the header first (nothing else is read if it is wrong), then
// the data it describes.
struct Checked {
  explicit Checked(std::size_t n) : header(n) {}
  Header header;
  Architecture arch;
};

std::unique_ptr<Checked> check(const std::string& text, std::uint64_t data_size) {
  auto c = std::make_unique<Checked>(text.size());
  parse_header(text, data_size, c->header);
  c->arch = read_architecture(c->header);
  return c;
}

template <class Use>
auto with_file(const std::string& path, Use use) {
  InputFile in(path);
  const std::uint64_t size = in.size();
  unsigned char len[8] = {};
  if (size >= 8 && !in.read(len, 8)) bad("the file ended while reading the header length");
  const std::uint64_t n = header_length(len, size);
  std::string text(std::size_t(n), '\0');
  if (!in.read(text.data(), std::size_t(n))) bad("the file ended while reading the header (truncated?)");
  const std::uint64_t data_size = size - 8 - n;
  const auto checked = check(text, data_size);
  std::string().swap(text);
  std::vector<unsigned char> data(static_cast<std::size_t>(data_size));
  if (data_size && !in.read(data.data(), std::size_t(data_size)))
    bad("the file ended while reading the tensor data (truncated?)");
  return use(*checked, data.data());
}

template <class Use>
auto with_bytes(const unsigned char* bytes, std::size_t size, Use use) {
  const std::uint64_t n = header_length(bytes, size);
  const std::string text(reinterpret_cast<const char*>(bytes) + 8, std::size_t(n));
  const auto checked = check(text, size - 8 - n);
  return use(*checked, bytes + 8 + n);
}

ModelFile as_stored(const Checked& c, const unsigned char* data) {
  if (c.arch.dtype == DType::F32) return {build_network<float>(c.arch, data), metadata_of(c.header)};
  return {build_network<double>(c.arch, data), metadata_of(c.header)};
}

// ------------------------------------------------------------------ writing

// Shortest text that reads back as v (a float model's l2 0.001 is "0.001", not
// "0.0010000000474974513"), always with a '.' or exponent so that it stays a float.
template <class F>
std::string float_text(F v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, ptr);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

void append_le(std::string& out, const void* p, std::size_t size) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  for (std::size_t k = size; k-- > 0;) out += char(b[k]);
#else
  out.append(reinterpret_cast<const char*>(b), size);
#endif
}

#if !defined(_WIN32)
std::string parent_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// `path`, or where the chain of symlinks at `path` ends (a file that may not exist yet).
std::string follow_symlinks(std::string path) {
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return path;
    std::vector<char> buf(PATH_MAX + 1);
    const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size() - 1);
    if (n < 0) sys_error("cannot read the symlink", path);
    const std::string target(buf.data(), std::size_t(n));
    path = target[0] == '/' ? target : parent_of(path) + "/" + target;
  }
  errno = ELOOP;
  sys_error("cannot save to", path);
}

// Temporary files are named .<name>.tmp-<pid>-XXXXXX: a save killed before its rename leaves
// one, removed here once its process is gone (kill(pid, 0) fails with ESRCH). Files of live
// processes, and anything that is not a regular file, are left alone.
void remove_stale_temporaries(const std::string& dir, const std::string& prefix) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string_view rest = name.substr(prefix.size());  // <pid>-XXXXXX
    const std::size_t dash = rest.find('-');
    long pid = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + (dash == std::string_view::npos ? 0 : dash), pid);
    if (dash == std::string_view::npos || rest.size() - dash != 7 || ec != std::errc() || end != rest.data() + dash ||
        pid <= 0 || pid == long(::getpid()))
      continue;
    if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;  // alive (EPERM: someone else's, alive)
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
      ::unlinkat(::dirfd(d), e->d_name, 0);
  }
  ::closedir(d);
}
#endif

}  // namespace

template <class T>
std::string model_file_bytes(const Network<T>& net, const Metadata& extra) {
  const char* code = sizeof(T) == 4 ? "F32" : "F64";
  ordered_json layers = ordered_json::array();
  ordered_json tensors = ordered_json::object();
  std::uint64_t offset = 0;
  // The next tensor of the data: `name`, of this shape, its bytes right after the previous tensor's.
  auto add_tensor = [&](const std::string& name, const std::vector<Index>& shape) {
    std::uint64_t bytes = sizeof(T);
    for (const Index d : shape) bytes *= std::uint64_t(d);
    tensors[name] = {
        {"dtype", code}, {"shape", shape}, {"data_offsets", ordered_json::array({offset, offset + bytes})}};
    offset += bytes;
  };
  std::size_t pos = 0;  // position in the Python layer list (Dropouts included)
  for (Index l = 0; l < net.num_layers(); ++l, ++pos) {
    const LayerSpec& s = net.layers()[std::size_t(l)];
    const bool has_alpha = s.activation == Activation::LeakyRelu || s.activation == Activation::Elu;
    ordered_json entry = {{"type", "Dense"},
                          {"n_in", s.n_in},
                          {"n_out", s.n_out},
                          {"activation", activation_name(s.activation)},
                          {"alpha", nullptr}};
    if (has_alpha) entry["alpha"] = s.alpha;
    if (s.init != Init::Default) entry["init"] = init_name(s.init);
    layers.push_back(std::move(entry));
    const std::string p = "layers." + std::to_string(pos);
    add_tensor(p + ".weight", {s.n_in, s.n_out});
    add_tensor(p + ".bias", {s.n_out});
    if (s.norm != Norm::None) {
      ordered_json norm = {{"type", s.norm == Norm::Batch ? "BatchNormalization" : "LayerNormalization"},
                           {"epsilon", s.norm_epsilon}};
      if (s.norm == Norm::Batch) norm["momentum"] = s.norm_momentum;
      layers.push_back(std::move(norm));
      ++pos;
      for (const char* suffix : norm_tensors(s.norm))
        add_tensor("layers." + std::to_string(pos) + "." + suffix, {s.n_out});
    }
    if (s.dropout > 0.0) {
      layers.push_back({{"type", "Dropout"}, {"rate", s.dropout}});
      ++pos;
    }
  }
  ordered_json meta = {{"fastmlp_format", kFormatVersion},
                       {"fastmlp_version", FASTMLP_VERSION},
                       {"dtype", sizeof(T) == 4 ? "float32" : "float64"},
                       {"loss", loss_name(net.loss())},
                       {"l2", float_text(net.l2())},
                       {"layers", layers.dump()}};
  for (const auto& [k, v] : extra) {
    if (std::find(std::begin(kOwnKeys), std::end(kOwnKeys), k) != std::end(kOwnKeys))
      throw std::invalid_argument("metadata key '" + k + "' is written by fastmlp itself");
    meta[k] = v;
  }
  if (meta.size() > kMaxMetadata)
    throw std::invalid_argument("metadata has " + std::to_string(meta.size()) + " entries, more than " +
                                std::to_string(kMaxMetadata));
  ordered_json root = {{"__metadata__", std::move(meta)}};
  root.update(tensors);
  std::string header;
  try {
    header = root.dump();  // strict: invalid UTF-8 in a metadata string throws
  } catch (const json::type_error& e) {
    throw std::invalid_argument("metadata must be UTF-8 text (" + json_error(e) + ")");
  }
  header.append((8 - header.size() % 8) % 8, ' ');  // tensor data starts 8-byte aligned
  if (header.size() > kMaxHeaderBytes)
    throw std::invalid_argument("cannot save: the header would have " + std::to_string(header.size()) +
                                " bytes, over the limit of " + std::to_string(kMaxHeaderBytes));
  std::string out;
  out.reserve(8 + header.size() + std::size_t(offset));
  const std::uint64_t n = header.size();
  for (int k = 0; k < 8; ++k) out += char((n >> (8 * k)) & 0xFF);
  out += header;
  for (Index l = 0; l < net.num_layers(); ++l) {
    const LayerSpec& s = net.layers()[std::size_t(l)];
    // W, b (, gamma, beta) as they lie in the parameter buffer (, the running statistics)
    const Index count = s.n_in * s.n_out + s.n_out + (s.norm != Norm::None ? 2 * s.n_out : 0);
    const std::pair<const T*, Index> parts[] = {
        {net.params() + net.weight_offset(l), count},
        {s.norm == Norm::Batch ? net.running_mean_of(l) : nullptr, s.norm == Norm::Batch ? 2 * s.n_out : 0}};
    for (const auto& [w, n] : parts)
      for (Index i = 0; i < n; ++i) {
        if (!std::isfinite(double(w[i])))
          throw std::invalid_argument("cannot save: layer " + std::to_string(l) + " has NaN or infinite parameters");
        append_le(out, &w[i], sizeof(T));
      }
  }
  return out;
}

template <class T>
Network<T> load_network(const std::string& path) {
  return with_file(path, [](const Checked& c, const unsigned char* data) { return build_network<T>(c.arch, data); });
}

ModelFile read_model_file(const std::string& path) { return with_file(path, as_stored); }

ModelFile read_model_bytes(const unsigned char* data, std::size_t size) { return with_bytes(data, size, as_stored); }

template <class T>
void save_network(const Network<T>& net, const std::string& path, const Metadata& extra) {
  write_file_atomic(path, model_file_bytes(net, extra));  // the bytes are complete before any file is touched
}

#if defined(_WIN32)
void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) sys_error("cannot create", tmp);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      sys_error("cannot write", tmp);
    }
  }
  std::remove(path.c_str());
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    sys_error("cannot rename onto", path);
  }
}
#else
void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string target = follow_symlinks(path);
  struct stat st;
  const bool exists = ::stat(target.c_str(), &st) == 0;
  if (exists && !S_ISREG(st.st_mode))
    throw std::invalid_argument("cannot save to '" + path + "': not a regular file (a folder, device, FIFO or socket)");
  const std::string dir = parent_of(target);
  const std::string prefix = "." + target.substr(target.find_last_of('/') + 1) + ".tmp-";
  remove_stale_temporaries(dir, prefix);
  std::string tmp = dir + "/" + prefix + std::to_string(long(::getpid())) + "-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) sys_error("cannot create a temporary file next to", path);
  auto fail = [&](const char* what, bool close_fd) {
    const int err = errno;
    if (close_fd) ::close(fd);
    ::unlink(tmp.c_str());
    errno = err;
    sys_error(what, path);
  };
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", true);
    }
    p += w;
    left -= std::size_t(w);
  }
  if (::fsync(fd) != 0) fail("cannot fsync", true);
  mode_t mode;
  if (exists) {
    mode = st.st_mode & 07777;  // keep an existing file's permissions
  } else {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    mode = 0666 & ~mask;
  }
  if (::fchmod(fd, mode) != 0) fail("cannot set permissions on a temporary file for", true);
  if (::close(fd) != 0) fail("cannot close a temporary file for", false);
  if (::rename(tmp.c_str(), target.c_str()) != 0) fail("cannot rename onto", false);
  // Make the rename durable (best effort).
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}
#endif

template Network<float> load_network<float>(const std::string&);
template Network<double> load_network<double>(const std::string&);
template void save_network<float>(const Network<float>&, const std::string&, const Metadata&);
template void save_network<double>(const Network<double>&, const std::string&, const Metadata&);
template std::string model_file_bytes<float>(const Network<float>&, const Metadata&);
template std::string model_file_bytes<double>(const Network<double>&, const Metadata&);

}  // namespace fastmlp
