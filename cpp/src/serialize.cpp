// Reading and writing model files (safetensors layout, see serialize.hpp and
// python/fastmlp/io.py). The JSON parser below handles exactly what a header
// needs: objects, arrays, strings, numbers, true/false/null, with bounded depth,
// and rejects everything else with std::invalid_argument.
#include "fastmlp/serialize.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace fastmlp {

namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100000000;  // as safetensors and fastmlp.io
// No array in a model header is longer than a tensor's shape or offset pair, and an object has
// two tensors per layer: these caps keep the parsed tree small whatever the header holds.
constexpr std::size_t kMaxItems = 64;
constexpr std::size_t kMaxMembers = 20000;
constexpr std::uint64_t kMaxDim = 2147483647;         // 2^31 - 1, as fastmlp.io
constexpr int kMaxDepth = 16;
constexpr const char* kLibraryVersion = "0.1.0";

// At most n bytes of s for a message, cut at a UTF-8 character boundary.
std::string clip(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

[[noreturn]] void bad(const std::string& msg) {
  throw std::invalid_argument("not a valid fastmlp model file: " + msg);
}

// ------------------------------------------------------------------ JSON values

struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Null;
  bool boolean = false;
  std::string text;  // String: the decoded value; Number: the literal as written
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json* find(const std::string& key) const {
    for (const auto& kv : members)
      if (kv.first == key) return &kv.second;
    return nullptr;
  }
  bool is_integer_literal() const {
    return kind == Number && text.find_first_of(".eE") == std::string::npos;
  }
};

std::string describe(const Json& v) {
  switch (v.kind) {
    case Json::Null: return "null";
    case Json::Bool: return v.boolean ? "true" : "false";
    case Json::Number: return v.text;
    case Json::String: return "\"" + clip(v.text, 40) + "\"";
    case Json::Array: return "an array";
    case Json::Object: return "an object";
  }
  return "?";
}

// A character for a message: itself when printable ASCII, else its code.
std::string show_char(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7F) return std::string("'") + c + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%02X", unsigned(u));
  return buf;
}

class Parser {
 public:
  Parser(const char* begin, const char* end, std::string what, int max_depth)
      : p_(begin), end_(end), what_(std::move(what)), max_depth_(max_depth) {}

  Json parse_document() {
    Json v = value(1);
    skip_ws();
    if (p_ != end_) fail("unexpected characters after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const { bad(what_ + " is not valid JSON (" + msg + ")"); }

  void skip_ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool literal(const char* word) {
    const std::size_t n = std::strlen(word);
    if (std::size_t(end_ - p_) >= n && std::memcmp(p_, word, n) == 0) {
      p_ += n;
      return true;
    }
    return false;
  }

  Json value(int depth) {
    if (depth > max_depth_) bad(what_ + " nests deeper than " + std::to_string(max_depth_) + " levels");
    skip_ws();
    if (p_ == end_) fail("unexpected end");
    Json v;
    const char c = *p_;
    if (c == '{') {
      v.kind = Json::Object;
      ++p_;
      skip_ws();
      if (p_ != end_ && *p_ == '}') {
        ++p_;
        return v;
      }
      for (;;) {
        skip_ws();
        if (p_ == end_ || *p_ != '"') fail("expected a string key");
        std::string key = string();
        if (v.find(key)) bad(what_ + " repeats the key \"" + clip(key, 40) + "\"");
        skip_ws();
        if (p_ == end_ || *p_ != ':') fail("expected ':'");
        ++p_;
        // Bounded so that neither memory (a node per value) nor the duplicate-key scan can blow
        // up: a model header has two tensors per layer and a few metadata strings.
        if (v.members.size() >= kMaxMembers) bad(what_ + " has an object with more than " + std::to_string(kMaxMembers) + " keys");
        Json item = value(depth + 1);
        v.members.emplace_back(std::move(key), std::move(item));
        skip_ws();
        if (p_ != end_ && *p_ == ',') { ++p_; continue; }
        if (p_ != end_ && *p_ == '}') { ++p_; return v; }
        fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.kind = Json::Array;
      ++p_;
      skip_ws();
      if (p_ != end_ && *p_ == ']') {
        ++p_;
        return v;
      }
      for (;;) {
        if (v.items.size() >= kMaxItems) bad(what_ + " has an array with more than " + std::to_string(kMaxItems) + " items");
        v.items.push_back(value(depth + 1));
        skip_ws();
        if (p_ != end_ && *p_ == ',') { ++p_; continue; }
        if (p_ != end_ && *p_ == ']') { ++p_; return v; }
        fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.kind = Json::String;
      v.text = string();
      return v;
    }
    if (literal("true")) { v.kind = Json::Bool; v.boolean = true; return v; }
    if (literal("false")) { v.kind = Json::Bool; return v; }
    if (literal("null")) return v;
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = Json::Number;
      v.text = number();
      return v;
    }
    fail("unexpected character " + show_char(c));
  }

  std::string number() {
    const char* start = p_;
    auto digits = [&] {
      const char* s = p_;
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      return p_ != s;
    };
    if (*p_ == '-') ++p_;
    if (p_ != end_ && *p_ == '0') {
      ++p_;
    } else if (!digits()) {
      fail("bad number");
    }
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (!digits()) fail("bad number");
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digits()) fail("bad number");
    }
    if (p_ - start > 400) fail("number literal too long");
    return std::string(start, p_);
  }

  static void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  std::uint32_t hex4() {
    if (end_ - p_ < 4) fail("truncated \\u escape");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i, ++p_) {
      const char h = *p_;
      v <<= 4;
      if (h >= '0' && h <= '9') v |= std::uint32_t(h - '0');
      else if (h >= 'a' && h <= 'f') v |= std::uint32_t(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= std::uint32_t(h - 'A' + 10);
      else fail("bad \\u escape");
    }
    return v;
  }

  std::string string() {
    ++p_;  // opening quote
    std::string out;
    for (;;) {
      if (p_ == end_) fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(*p_++);
      if (c == '"') return out;
      if (c < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += char(c);
        continue;
      }
      if (p_ == end_) fail("unterminated string");
      const char e = *p_++;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') fail("lone surrogate in \\u escape");
            p_ += 2;
            const std::uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("bad surrogate pair in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("lone surrogate in \\u escape");
          }
          put_utf8(out, cp);
          break;
        }
        default: fail("bad escape \\ followed by " + show_char(e));
      }
    }
  }

  const char* p_;
  const char* end_;
  std::string what_;
  int max_depth_;
};

bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c >> 5) == 0x6) { len = 2; cp = c & 0x1F; }
    else if ((c >> 4) == 0xE) { len = 3; cp = c & 0x0F; }
    else if ((c >> 3) == 0x1E) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 0x2) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

Json parse_json(const std::string& text, const std::string& what, int max_depth) {
  Parser parser(text.data(), text.data() + text.size(), what, max_depth);
  return parser.parse_document();
}

// Non-negative integer literal, exactly (no double rounding); nullopt-like flag on failure.
bool as_uint64(const Json& v, std::uint64_t& out) {
  if (!v.is_integer_literal() || v.text[0] == '-') return false;
  const char* b = v.text.data();
  const char* e = b + v.text.size();
  auto [ptr, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && ptr == e;
}

bool as_double(const Json& v, double& out) {
  if (v.kind != Json::Number) return false;
  const char* b = v.text.data();
  const char* e = b + v.text.size();
  auto [ptr, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && ptr == e && std::isfinite(out);
}

// ------------------------------------------------------------------ the header

enum class DType { F32, F64 };

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin, end;
};

struct Header {
  std::vector<std::pair<std::string, std::string>> meta;
  std::vector<TensorInfo> tensors;
  const std::string* get(const std::string& key) const {
    for (const auto& kv : meta)
      if (kv.first == key) return &kv.second;
    return nullptr;
  }
  const TensorInfo* tensor(const std::string& name) const {
    for (const auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
};

std::uint64_t read_le64(const unsigned char* b) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

Header parse_header(const std::string& text, std::uint64_t data_size) {
  if (!valid_utf8(text)) bad("the header is not UTF-8 text");
  const Json root = parse_json(text, "the header", kMaxDepth);
  if (root.kind != Json::Object) bad("the header is not a JSON object");
  Header h;
  bool have_meta = false;
  for (const auto& [name, info] : root.members) {
    if (name == "__metadata__") {
      if (info.kind != Json::Object) bad("__metadata__ must map strings to strings");
      for (const auto& [k, v] : info.members) {
        if (v.kind != Json::String) bad("__metadata__ must map strings to strings");
        h.meta.emplace_back(k, v.text);
      }
      have_meta = true;
      continue;
    }
    const std::string tn = "tensor '" + clip(name, 60) + "'";
    const Json* dtype = info.kind == Json::Object ? info.find("dtype") : nullptr;
    const Json* shape = info.kind == Json::Object ? info.find("shape") : nullptr;
    const Json* offsets = info.kind == Json::Object ? info.find("data_offsets") : nullptr;
    if (!dtype || !shape || !offsets || info.members.size() != 3)
      bad(tn + " must be an object with exactly dtype, shape and data_offsets");
    TensorInfo t;
    t.name = name;
    if (dtype->kind == Json::String && dtype->text == "F32") t.dtype = DType::F32;
    else if (dtype->kind == Json::String && dtype->text == "F64") t.dtype = DType::F64;
    else bad(tn + " has dtype " + describe(*dtype) + "; fastmlp files hold F32 or F64");
    if (shape->kind != Json::Array || shape->items.size() > 8) bad(tn + " has an invalid shape");
    const std::uint64_t itemsize = t.dtype == DType::F32 ? 4 : 8;
    std::uint64_t nbytes = itemsize;
    bool overflow = false;
    for (const auto& s : shape->items) {
      std::uint64_t d;
      if (!as_uint64(s, d)) bad(tn + " has an invalid shape (entry " + describe(s) + ")");
      t.shape.push_back(d);
      if (d != 0 && nbytes > std::numeric_limits<std::uint64_t>::max() / d) overflow = true;
      else nbytes *= d;
    }
    if (offsets->kind != Json::Array || offsets->items.size() != 2 || !as_uint64(offsets->items[0], t.begin) ||
        !as_uint64(offsets->items[1], t.end) || t.begin > t.end || t.end > data_size)
      bad(tn + " has data_offsets outside the " + std::to_string(data_size) + " data bytes");
    if (overflow || t.end - t.begin != nbytes)
      bad(tn + " needs " + (overflow ? std::string("more than 2^64") : std::to_string(nbytes)) +
          " bytes for its shape, its data_offsets span " + std::to_string(t.end - t.begin));
    h.tensors.push_back(std::move(t));
  }
  if (!have_meta) bad("the header has no __metadata__ (not written by fastmlp?)");
  // The tensors must tile the data exactly: no overlap, no gap, nothing after.
  std::vector<const TensorInfo*> order;
  for (const auto& t : h.tensors) order.push_back(&t);
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
  return h;
}

// ------------------------------------------------------------------ the architecture

struct Architecture {
  DType dtype;
  Loss loss;
  double l2 = 0.0;
  std::vector<LayerSpec> layers;
  std::vector<std::string> weight_names, bias_names;
};

double meta_number(const Header& h, const std::string& key) {
  const Json v = parse_json(*h.get(key), "metadata '" + key + "'", 4);
  double d;
  if (!as_double(v, d)) bad("metadata '" + key + "' must be a finite number, got " + describe(v));
  return d;
}

Architecture read_architecture(const Header& h) {
  for (const char* key : {"fastmlp_format", "dtype", "loss", "layers"})
    if (!h.get(key)) bad(std::string("__metadata__ lacks ") + key + " (not written by fastmlp?)");
  if (*h.get("fastmlp_format") != kFormatVersion)
    bad("unsupported fastmlp_format '" + clip(*h.get("fastmlp_format"), 20) + "'; this fastmlp reads format '" +
        kFormatVersion + "' (a newer fastmlp wrote it?)");
  Architecture a;
  const std::string& dtype = *h.get("dtype");
  if (dtype == "float32") a.dtype = DType::F32;
  else if (dtype == "float64") a.dtype = DType::F64;
  else bad("dtype '" + clip(dtype, 20) + "' must be 'float32' or 'float64'");
  try {
    a.loss = loss_from_name(*h.get("loss"));
  } catch (const std::invalid_argument& e) {
    bad(e.what());
  }
  if (h.get("l2")) {
    a.l2 = meta_number(h, "l2");
    if (a.l2 < 0) bad("l2 must be >= 0, got " + std::to_string(a.l2));
  }
  if (h.get("seed")) {  // Python's seed for initialisation and shuffling; checked, not used here
    const Json seed = parse_json(*h.get("seed"), "metadata 'seed'", 4);
    std::uint64_t unused;
    if (!as_uint64(seed, unused)) bad("seed must be an integer in [0, 2**64), got " + describe(seed));
  }
  const Json layers = parse_json(*h.get("layers"), "metadata 'layers'", 4);
  if (layers.kind != Json::Array || layers.items.empty()) bad("metadata 'layers' must be a non-empty JSON list");
  std::vector<std::string> expected;
  bool prev_dense = false;
  for (std::size_t i = 0; i < layers.items.size(); ++i) {
    const Json& e = layers.items[i];
    const std::string where = "layers[" + std::to_string(i) + "]";
    const Json* type = e.kind == Json::Object ? e.find("type") : nullptr;
    if (!type || type->kind != Json::String) bad(where + " must be an object with a 'type'");
    if (type->text == "Dropout") {
      const Json* rate = e.find("rate");
      double p;
      if (e.members.size() != 2 || !rate || !as_double(*rate, p) || p < 0 || p >= 1)
        bad(where + ": a Dropout needs exactly a 'rate' in [0, 1)");
      if (!prev_dense) bad(where + ": a Dropout must follow a Dense layer");
      a.layers.back().dropout = p;  // the Network checks that it is not the output layer
      prev_dense = false;
      continue;
    }
    if (type->text != "Dense") bad(where + " has unknown type '" + clip(type->text, 40) + "'");
    LayerSpec s;
    bool alpha_given = false;
    for (const auto& [k, v] : e.members) {
      if (k == "type") continue;
      if (k == "n_in" || k == "n_out") {
        std::uint64_t d;
        if (!as_uint64(v, d) || d < 1 || d > kMaxDim)
          bad(where + "." + k + " must be an integer in [1, " + std::to_string(kMaxDim) + "], got " + describe(v));
        (k == "n_in" ? s.n_in : s.n_out) = Index(d);
      } else if (k == "activation") {
        if (v.kind != Json::String) bad(where + ".activation must be a string");
        try {
          s.activation = activation_from_name(v.text);
        } catch (const std::invalid_argument& err) {
          bad(where + ": " + err.what());
        }
      } else if (k == "alpha") {
        if (v.kind == Json::Null) continue;  // the activation's default, filled in below
        if (!as_double(v, s.alpha)) bad(where + ".alpha must be a number or null");
        alpha_given = true;
      } else if (k == "init") {
        if (v.kind == Json::Null) continue;
        if (v.kind != Json::String) bad(where + ".init must be a string");
        try {
          s.init = init_from_name(v.text);
        } catch (const std::invalid_argument& err) {
          bad(where + ": " + err.what());
        }
      } else {
        bad(where + " has unknown field '" + clip(k, 40) + "'");
      }
    }
    if (s.n_in == 0 || s.n_out == 0) bad(where + " lacks n_in or n_out");
    if (!alpha_given) s.alpha = default_alpha(s.activation);
    for (const char* suffix : {"weight", "bias"}) {
      const std::string name = "layers." + std::to_string(i) + "." + suffix;
      const TensorInfo* t = h.tensor(name);
      if (!t) bad("tensor '" + name + "' is missing");
      if (t->dtype != a.dtype)
        bad("tensor '" + name + "' has dtype " + (t->dtype == DType::F32 ? "F32" : "F64") + " but the model's dtype is " +
            dtype);
      const bool ok = suffix[0] == 'w' ? t->shape == std::vector<std::uint64_t>{std::uint64_t(s.n_in), std::uint64_t(s.n_out)}
                                       : t->shape == std::vector<std::uint64_t>{std::uint64_t(s.n_out)};
      if (!ok) bad("tensor '" + name + "' has the wrong shape for " + where);
      expected.push_back(name);
    }
    a.weight_names.push_back(expected[expected.size() - 2]);
    a.bias_names.push_back(expected.back());
    a.layers.push_back(s);
    prev_dense = true;
  }
  if (a.layers.empty()) bad("the model has no Dense layer");
  if (expected.size() != h.tensors.size()) bad("the file holds unexpected tensors");
  return a;
}

template <class T, class S>
void copy_tensor(const std::vector<unsigned char>& data, const TensorInfo& t, T* dst, const std::string& name) {
  const std::size_t n = std::size_t((t.end - t.begin) / sizeof(S));
  const unsigned char* src = data.data() + t.begin;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char b[sizeof(S)];
    for (std::size_t k = 0; k < sizeof(S); ++k) b[k] = src[i * sizeof(S) + k];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    std::reverse(b, b + sizeof(S));
#endif
    S v;
    std::memcpy(&v, b, sizeof(S));
    // Checked after the conversion too: an F64 1e300 does not fit a float model.
    if (!std::isfinite(v) || !std::isfinite(T(v))) bad("tensor '" + name + "' contains NaN or infinity (in the model's dtype)");
    dst[i] = T(v);
  }
}

// ------------------------------------------------------------------ writing

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

template <class F>
std::string json_number(F v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  std::string s(buf, ptr);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";  // stays a float for Python
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

template <class T>
std::string file_bytes(const Network<T>& net) {
  const char* code = sizeof(T) == 4 ? "F32" : "F64";
  std::string layers = "[";
  std::string tensors;
  std::uint64_t offset = 0;
  Index pos = 0;  // position in the Python layer list (Dropouts included)
  for (Index l = 0; l < net.num_layers(); ++l, ++pos) {
    const LayerSpec& s = net.layers()[l];
    const bool has_alpha = s.activation == Activation::LeakyRelu || s.activation == Activation::Elu;
    if (l > 0) layers += ",";
    layers += "{\"type\":\"Dense\",\"n_in\":" + std::to_string(s.n_in) + ",\"n_out\":" + std::to_string(s.n_out) +
              ",\"activation\":" + json_string(activation_name(s.activation)) +
              ",\"alpha\":" + (has_alpha ? json_number(s.alpha) : std::string("null"));
    if (s.init != Init::Default) layers += ",\"init\":" + json_string(init_name(s.init));
    layers += "}";
    const std::uint64_t wbytes = std::uint64_t(s.n_in) * std::uint64_t(s.n_out) * sizeof(T);
    const std::uint64_t bbytes = std::uint64_t(s.n_out) * sizeof(T);
    const std::string p = std::to_string(pos);
    tensors += ",\"layers." + p + ".weight\":{\"dtype\":\"" + code + "\",\"shape\":[" + std::to_string(s.n_in) + "," +
               std::to_string(s.n_out) + "],\"data_offsets\":[" + std::to_string(offset) + "," +
               std::to_string(offset + wbytes) + "]}";
    offset += wbytes;
    tensors += ",\"layers." + p + ".bias\":{\"dtype\":\"" + code + "\",\"shape\":[" + std::to_string(s.n_out) +
               "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bbytes) + "]}";
    offset += bbytes;
    if (s.dropout > 0.0) {
      layers += ",{\"type\":\"Dropout\",\"rate\":" + json_number(s.dropout) + "}";
      ++pos;
    }
  }
  layers += "]";
  std::string header = "{\"__metadata__\":{\"fastmlp_format\":" + json_string(kFormatVersion) +
                       ",\"fastmlp_version\":" + json_string(kLibraryVersion) +
                       ",\"dtype\":" + json_string(sizeof(T) == 4 ? "float32" : "float64") +
                       ",\"loss\":" + json_string(loss_name(net.loss())) +
                       ",\"l2\":" + json_string(json_number(net.l2()))  /* float: "0.001", not 0.0010000000474974513 */ + ",\"layers\":" + json_string(layers) +
                       "}" + tensors + "}";
  header.append((8 - header.size() % 8) % 8, ' ');  // tensor data starts 8-byte aligned
  std::string out;
  out.reserve(8 + header.size() + std::size_t(offset));
  const std::uint64_t n = header.size();
  for (int k = 0; k < 8; ++k) out += char((n >> (8 * k)) & 0xFF);
  out += header;
  for (Index l = 0; l < net.num_layers(); ++l) {
    const T* w = net.params() + net.weight_offset(l);
    const Index count = net.layers()[l].n_in * net.layers()[l].n_out + net.layers()[l].n_out;  // W then b
    for (Index i = 0; i < count; ++i) {
      if (!std::isfinite(double(w[i])))
        throw std::invalid_argument("cannot save: layer " + std::to_string(l) + " has NaN or infinite parameters");
      append_le(out, &w[i], sizeof(T));
    }
  }
  return out;
}

[[noreturn]] void io_error(const std::string& what, const std::string& path) {
  throw std::runtime_error(what + " '" + path + "': " + std::strerror(errno));
}

}  // namespace

template <class T>
Network<T> load_network(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) io_error("cannot open", path);
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  in.seekg(0, std::ios::beg);
  if (end < 0) io_error("cannot read", path);
  const std::uint64_t size = std::uint64_t(end);
  if (size < 8) bad("it has " + std::to_string(size) + " bytes, fewer than the 8-byte header length");
  unsigned char len[8];
  if (!in.read(reinterpret_cast<char*>(len), 8)) bad("the file ended while reading the header length");
  const std::uint64_t n = read_le64(len);
  if (n > size - 8)
    bad("the header length " + std::to_string(n) + " is larger than the " + std::to_string(size - 8) +
        " bytes after it (truncated file?)");
  if (n > kMaxHeaderBytes)
    bad("the header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderBytes) + " bytes");
  if (n < 2) bad("the header length " + std::to_string(n) + " is too small for a JSON object");
  std::string text(std::size_t(n), '\0');
  if (!in.read(text.data(), std::streamsize(n))) bad("the file ended while reading the header (truncated?)");
  const std::uint64_t data_size = size - 8 - n;
  const Header header = parse_header(text, data_size);
  const Architecture arch = read_architecture(header);
  std::vector<unsigned char> data(static_cast<std::size_t>(data_size));
  if (data_size && !in.read(reinterpret_cast<char*>(data.data()), std::streamsize(data_size)))
    bad("the file ended while reading the tensor data (truncated?)");
  std::unique_ptr<Network<T>> net;
  try {
    net = std::make_unique<Network<T>>(arch.layers, arch.loss, T(arch.l2));
  } catch (const std::invalid_argument& e) {
    bad(e.what());
  }
  for (Index l = 0; l < net->num_layers(); ++l) {
    const TensorInfo& w = *header.tensor(arch.weight_names[std::size_t(l)]);
    const TensorInfo& b = *header.tensor(arch.bias_names[std::size_t(l)]);
    if (arch.dtype == DType::F32) {
      copy_tensor<T, float>(data, w, net->W(l).data(), w.name);
      copy_tensor<T, float>(data, b, net->b(l).data(), b.name);
    } else {
      copy_tensor<T, double>(data, w, net->W(l).data(), w.name);
      copy_tensor<T, double>(data, b, net->b(l).data(), b.name);
    }
  }
  return std::move(*net);
}

template <class T>
void save_network(const Network<T>& net, const std::string& path) {
  const std::string bytes = file_bytes(net);  // throws before any file is touched
#if defined(_WIN32)
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) io_error("cannot create", tmp);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      io_error("cannot write", tmp);
    }
  }
  std::remove(path.c_str());
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    io_error("cannot rename onto", path);
  }
#else
  std::string tmpl = path + ".tmpXXXXXX";
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) io_error("cannot create a temporary file next to", path);
  auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmpl.c_str());
    errno = err;
    io_error(what, path);
  };
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("cannot write");
    }
    p += w;
    left -= std::size_t(w);
  }
  if (::fsync(fd) != 0) fail("cannot fsync");
  struct stat st;
  mode_t mode;
  if (::stat(path.c_str(), &st) == 0) {
    mode = st.st_mode & 07777;  // keep an existing file's permissions
  } else {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    mode = 0666 & ~mask;
  }
  if (::fchmod(fd, mode) != 0) fail("cannot set permissions on a temporary file for");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmpl.c_str());
    errno = err;
    io_error("cannot close a temporary file for", path);
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmpl.c_str());
    errno = err;
    io_error("cannot rename onto", path);
  }
  // Make the rename durable (best effort).
  const std::size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int dfd = ::open(dir.c_str(), O_RDONLY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
#endif
}

template Network<float> load_network<float>(const std::string&);
template Network<double> load_network<double>(const std::string&);
template void save_network<float>(const Network<float>&, const std::string&);
template void save_network<double>(const Network<double>&, const std::string&);

}  // namespace fastmlp
