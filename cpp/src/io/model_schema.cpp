// The model schema: which tensors and metadata a fastmlp model file holds (the layout:
// fastmlp/serialize.hpp), read from a checked safetensors header (safetensors.hpp) into a Network
// and written from one. The "layers" list holds each layer's config (layer.hpp: its type, its
// fields, a block's inner "layers"); the layers themselves say what their fields and tensors are
// (cpp/src/layers), so a new layer kind adds nothing here.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "fastmlp/gemm_int8.hpp"  // kInt8WeightMax
#include "fastmlp/serialize.hpp"
#include "safetensors.hpp"

#ifndef FASTMLP_VERSION
#error "FASTMLP_VERSION must be defined by the build (CMakeLists.txt passes pyproject.toml's version)"
#endif

namespace fastmlp {

using namespace io;  // the reader (safetensors.hpp) and the errors (errors.hpp)

namespace {

const char* const kOwnKeys[] = {"fastmlp_format", "fastmlp_version", "dtype", "loss", "l2", "layers"};

// ------------------------------------------------------------------ the architecture

struct Architecture {
  DType dtype = DType::F32;
  Loss loss = Loss::MeanSquaredError;
  double l2 = 0.0;
  bool mixed_bf16 = false;  // Python's dtype policy "mixed_bfloat16" (python/fastmlp/_mixed.py)
  std::vector<LayerConfig> layers;
  std::vector<std::pair<const TensorInfo*, TensorSlot>> tensors;  // the file's, in the network's order
};

// A JSON entry of the "layers" list as a LayerConfig: scalars as fields, "layers" as a block's list.
LayerConfig config_of(const json& e, const std::string& where, int depth) {
  const auto type = e.is_object() ? e.find("type") : e.end();
  if (!e.is_object() || type == e.end() || !type->is_string()) bad(where + " must be an object with a 'type'");
  LayerConfig c{type->get<std::string>(), {}, {}, false};
  for (const auto& [k, v] : e.items()) {
    if (k == "type") continue;
    if (k == "layers") {
      if (!v.is_array()) bad(where + ".layers must be a list");
      if (depth >= kMaxBlockNesting)
        bad(where + ": blocks nest deeper than " + std::to_string(kMaxBlockNesting) + " levels");
      c.is_block = true;
      for (std::size_t i = 0; i < v.size(); ++i)
        c.layers.push_back(config_of(v[i], where + ".layers[" + std::to_string(i) + "]", depth + 1));
    } else if (v.is_null()) {
      c.set(k, ConfigValue::null());
    } else if (v.is_boolean()) {
      c.set(k, ConfigValue::of(v.get<bool>()));
    } else if (v.is_number_integer()) {
      c.set(k, v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(INT64_MAX)
                   ? ConfigValue::of(double(v.get<std::uint64_t>()))
                   : ConfigValue::of(v.get<std::int64_t>()));
    } else if (v.is_number()) {
      c.set(k, ConfigValue::of(v.get<double>()));
    } else if (v.is_string()) {
      c.set(k, ConfigValue::of(v.get<std::string>()));
    } else {
      bad(where + "." + clip(k, 40) + " must be a number, a string, a boolean or null, got " + describe(v));
    }
  }
  return c;
}

// A LayerConfig as its JSON entry: "type", the fields in order, a block's "layers".
ordered_json entry_of(const LayerConfig& c) {
  ordered_json e = {{"type", c.type}};
  for (const auto& [k, v] : c.fields) {
    switch (v.kind) {
      case ConfigValue::Kind::Null: e[k] = nullptr; break;
      case ConfigValue::Kind::Integer: e[k] = v.integer; break;
      case ConfigValue::Kind::Number: e[k] = v.number; break;
      case ConfigValue::Kind::Text: e[k] = v.text; break;
      case ConfigValue::Kind::Bool: e[k] = v.flag; break;
    }
  }
  if (c.is_block) {
    ordered_json inner = ordered_json::array();
    for (const LayerConfig& l : c.layers) inner.push_back(entry_of(l));
    e["layers"] = std::move(inner);
  }
  return e;
}

// ------------------------------------------------------------------ reading

double meta_number(std::string_view text, const std::string& key) {
  const json v = parse_value(text, "metadata '" + key + "'", 1, 0);
  double d;
  if (!as_double(v, d)) bad("metadata '" + key + "' must be a finite number, got " + describe(v));
  return d;
}

const char* dtype_code(DType t) { return t == DType::F32 ? "F32" : t == DType::F64 ? "F64" : "I8"; }

// Checked against the tensors: every Dense layer has its weight and bias (and its normalization's
// tensors) with the right shapes and dtype, and there is nothing else.
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
  if (const auto* policy = h.get("dtype_policy")) {  // written only for mixed_bfloat16, on float32 files
    if (*policy != "mixed_bfloat16" || a.dtype != DType::F32)
      bad("metadata 'dtype_policy' must be 'mixed_bfloat16' with dtype 'float32', got '" + clip(*policy, 40) +
          "' with '" + clip(dtype, 20) + "'");
    a.mixed_bf16 = true;
  }
  if (const auto* text = h.get("seed")) {  // Python's seed for initialisation and shuffling; checked, not used here
    const json seed = parse_value(*text, "metadata 'seed'", 1, 0);
    std::uint64_t unused;
    if (!as_uint64(seed, unused)) bad("seed must be an integer in [0, 2**64), got " + describe(seed));
  }
  // Entries: at most 3 per tensor (a Dense's Activation and Dropout have none) and a few more.
  // Depth (parse_value counts values, scalars included): the list, its entries, and per block a
  // list and its entries, then the scalars of the innermost entries.
  const json layers =
      parse_value(*h.get("layers"), "metadata 'layers'", 3 + 2 * kMaxBlockNesting, 3 * h.tensors.size() + 16);
  if (!layers.is_array() || layers.empty()) bad("metadata 'layers' must be a non-empty JSON list");
  for (std::size_t i = 0; i < layers.size(); ++i)
    a.layers.push_back(config_of(layers[i], "layers[" + std::to_string(i) + "]", 0));
  // The layers say which tensors they hold: every one must be in the file, of the model's dtype
  // and shape, and nothing else. Each layer's tensors are checked before the next layer is built,
  // and nothing is allocated before the tensors, which tile the file, vouch for the sizes.
  Index n_in = -1, n_params = 0, n_state = 0;
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const std::string where = "layers[" + std::to_string(i) + "]";
    auto layer = or_bad("", [&] { return make_layer<double>(a.layers[i], n_in, where); });
    layer->layout(n_params, n_state);
    std::vector<TensorSlot> slots;
    layer->tensors("layers." + std::to_string(i) + ".", slots);
    for (TensorSlot& slot : slots) {
      const TensorInfo* t = h.tensor(slot.name);
      if (!t) bad("tensor '" + clip(slot.name, 60) + "' is missing");
      if (slot.int8 && a.dtype != DType::F32)  // model.quantize("int8") takes float32 models only
        bad(where + " is quantized (int8), which needs dtype 'float32', not '" + std::string(dtype) + "'");
      const DType want = slot.int8 ? DType::I8 : a.dtype;  // a quantized Dense's weights: I8
      if (t->dtype != want)
        bad("tensor '" + clip(slot.name, 60) + "' has dtype " + dtype_code(t->dtype) + " but " +
            (slot.int8 ? std::string("int8 weights are I8") : "the model's dtype is " + std::string(dtype)));
      if (!h.shape_is(*t, std::vector<std::uint64_t>(slot.shape.begin(), slot.shape.end())))
        bad("tensor '" + clip(slot.name, 60) + "' has the wrong shape for " + where);
      a.tensors.emplace_back(t, std::move(slot));
    }
    n_in = layer->n_out();
  }
  if (a.tensors.size() != h.tensors.size()) bad("the file holds unexpected tensors");
  return a;
}

template <class T>
Network<T> build_network(const Architecture& arch, const unsigned char* data) {
  Network<T> net = or_bad("", [&] { return Network<T>(arch.layers, -1, arch.loss, T(arch.l2)); });
  // A mixed_bfloat16 model predicts with bf16-rounded product operands, as fm.load's does; loaded in
  // float64 it computes in float64.
  if constexpr (std::is_same_v<T, float>) net.set_mixed_bf16(arch.mixed_bf16);
  if constexpr (!std::is_same_v<T, float>) {  // int8 x float32 products: no double network can run them
    for (const auto& entry : arch.tensors)
      if (entry.second.int8)
        throw std::invalid_argument(
            "this model is quantized (int8 Dense layers, model.quantize(\"int8\")), which computes in float32: "
            "load it as float (load_network<float>, load_model<float>)");
  }
  for (const auto& [t, slot] : arch.tensors) {
    T* dst = (slot.state ? net.state() : net.params()) + slot.offset;
    if (t->dtype == DType::I8)
      copy_tensor<T, std::int8_t>(data, *t, dst);
    else
      arch.dtype == DType::F32 ? copy_tensor<T, float>(data, *t, dst) : copy_tensor<T, double>(data, *t, dst);
    if (slot.int8)  // the kernel's range (fastmlp/gemm_int8.hpp: 7-bit weights never saturate vpmaddubsw)
      for (Index i = 0; i < slot.shape[0] * slot.shape[1]; ++i)
        if (!(std::fabs(dst[i]) <= T(kInt8WeightMax)))
          bad("tensor '" + clip(t->name, 60) + "' holds int8 weights outside [-63, 63]");
    const std::string_view name = slot.name;
    if (slot.state && name.size() > 11 && name.substr(name.size() - 11) == "running_var")  // sqrt(var + eps)
      for (Index i = 0; i < slot.shape[0]; ++i)
        if (dst[i] < T(0)) bad("tensor '" + clip(t->name, 60) + "' holds a negative variance");
  }
  return net;
}

Metadata metadata_of(const Header& h) {
  Metadata m;
  for (const auto& [k, v] : h.meta) m.emplace(std::string(k), std::string(v));
  return m;
}

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

}  // namespace

template <class T>
std::string model_file_bytes(const Network<T>& net, const Metadata& extra) {
  const char* code = sizeof(T) == 4 ? "F32" : "F64";
  ordered_json layers = ordered_json::array();
  for (const LayerConfig& c : net.configs()) layers.push_back(entry_of(c));
  ordered_json tensors = ordered_json::object();
  std::uint64_t offset = 0;  // each tensor's bytes right after the previous tensor's
  for (const TensorSlot& t : net.tensors()) {
    std::uint64_t bytes = t.int8 ? 1 : sizeof(T);
    for (const Index d : t.shape) bytes *= std::uint64_t(d);
    tensors[t.name] = {{"dtype", t.int8 ? "I8" : code},
                       {"shape", std::vector<std::uint64_t>(t.shape.begin(), t.shape.end())},
                       {"data_offsets", ordered_json::array({offset, offset + bytes})}};
    offset += bytes;
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
  for (const TensorSlot& t : net.tensors()) {  // as they lie in the parameter buffer or the running statistics
    const T* w = (t.state ? net.state() : net.params()) + t.offset;
    Index count = 1;
    for (const Index d : t.shape) count *= d;
    for (Index i = 0; i < count; ++i) {
      if (!std::isfinite(double(w[i])))
        throw std::invalid_argument("cannot save: " + t.name + " holds NaN or infinite parameters");
      if (t.int8) {
        if (!(std::fabs(w[i]) <= T(kInt8WeightMax)) || w[i] != std::nearbyint(w[i]))
          throw std::invalid_argument("cannot save: " + t.name +
                                      " holds int8 weights that are not integers in [-63, 63]");
        out += char(std::int8_t(w[i]));
        continue;
      }
      append_le(out, &w[i], sizeof(T));
    }
  }
  return out;
}

// ------------------------------------------------------------------ class and column names

namespace {

// How many values past the model's count an entry may hold and still be parsed (the message then
// gives the exact count); more are dropped unparsed (as Python's _persist._SPARE_VALUES).
constexpr std::size_t kSpareValues = 64;

// x rounded to the nearest float16 (ties to even; x within float16's range).
double to_half(double x) {
  const double a = std::abs(x);
  if (a == 0) return x;
  int e = 0;
  std::frexp(a, &e);                                                  // a = m 2^e, m in [0.5, 1)
  const double quantum = std::ldexp(1.0, std::max(e - 1, -14) - 10);  // 10 mantissa bits; subnormals below 2^-14
  return std::copysign(std::nearbyint(a / quantum) * quantum, x);
}

// The shortest "d.ddde+XX" that reads back as v in its own precision (`bits`: 16, 32 or 64), in
// any locale (to_chars / from_chars).
std::string shortest_scientific(double v, int bits) {
  char buf[64];
  const auto sci = std::chars_format::scientific;
  if (bits == 64) return std::string(buf, std::to_chars(buf, buf + sizeof buf, v, sci).ptr);
  if (bits == 32) return std::string(buf, std::to_chars(buf, buf + sizeof buf, float(v), sci).ptr);
  std::string text;
  for (int digits = 0; digits < 8; ++digits) {  // float16: the fewest digits that round back to v
    text.assign(buf, std::to_chars(buf, buf + sizeof buf, v, sci, digits).ptr);
    double back = 0;
    std::from_chars(text.data(), text.data() + text.size(), back);
    if (to_half(back) == v) break;
  }
  return text;
}

// v (a float of `bits` bits: 16, 32 or 64) as numpy prints it: the shortest digits that read back
// as v, positional when 1e-4 <= |v| < 1e16 (float64), 1e6 (float32), 1e3 (float16), with ".0" when
// integral; else d.ddde+XX.
std::string numpy_float_text(double v, int bits) {
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  const std::string sci = shortest_scientific(v, bits);  // "-1.2345e+08"
  const std::size_t e_at = sci.find('e');
  const bool negative = sci[0] == '-';
  std::string digits;
  for (std::size_t i = negative; i < e_at; ++i)
    if (sci[i] != '.') digits += sci[i];
  const int exp = std::stoi(sci.substr(e_at + 1));
  const double upper = bits == 64 ? 1e16 : bits == 32 ? 1e6 : 1e3;
  std::string out = negative ? "-" : "";
  if (std::abs(v) >= 1e-4 && std::abs(v) < upper) {
    if (exp >= 0) {
      const std::size_t whole = std::size_t(exp) + 1;
      if (digits.size() < whole) digits.append(whole - digits.size(), '0');
      const std::string frac = digits.substr(whole);
      out += digits.substr(0, whole) + "." + (frac.empty() ? "0" : frac);
    } else {
      out += "0." + std::string(std::size_t(-exp - 1), '0') + digits;
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  const int a = exp < 0 ? -exp : exp;
  out += std::string("e") + (exp < 0 ? "-" : "+") + (a < 10 ? "0" : "") + std::to_string(a);
  return out;
}

// The JSON text of a metadata entry as a tree, at most two levels deep (an object, its list) and
// with at most `most` + kSpareValues values in a list: further values are dropped unparsed and
// `dropped` says so, deeper ones (a list or object where a label goes) too and `nested` says so
// (nothing larger than the model's count is built).
json bounded_json(std::string_view text, const std::string& key, std::size_t most, bool& dropped, bool& nested) {
  std::size_t values = 0;
  dropped = nested = false;
  const json::parser_callback_t keep = [&](int depth, json::parse_event_t event, json&) {
    nested = nested || depth > 2;
    const bool keep_it =
        depth <= 2 && !(event == json::parse_event_t::value && depth == 2 && ++values > most + kSpareValues);
    dropped = dropped || !keep_it;
    return keep_it;
  };
  try {
    return json::parse(text.begin(), text.end(), keep);
  } catch (const json::exception& e) {
    bad("metadata '" + key + "' is not valid JSON (" + json_error(e) + ")");
  }
}

// One label of the "classes" entry as Python prints it; `kind` and `bits` from its numpy dtype.
std::string label_text(const json& v, char kind, int bits, std::size_t i) {
  const auto wrong = [&] {
    bad("metadata 'classes': values[" + std::to_string(i) + "] = " + describe(v) + " is not a label of its dtype");
  };
  if (v.is_string()) {
    if (kind != 'U' && kind != 'S' && kind != 'O') wrong();
    return v.get<std::string>();
  }
  if (v.is_boolean()) {
    if (kind != 'b' && kind != 'O') wrong();
    return v.get<bool>() ? "True" : "False";
  }
  if (v.is_number_integer()) {
    if (kind == 'f') return numpy_float_text(v.get<double>(), bits);
    if (kind != 'i' && kind != 'u' && kind != 'O') wrong();
    return v.dump();
  }
  if (v.is_number_float()) {
    if (kind != 'f' && kind != 'O') wrong();
    const double d = v.get<double>();
    if (!std::isfinite(d)) wrong();
    return numpy_float_text(d, kind == 'O' ? 64 : bits);
  }
  wrong();
  return {};
}

// numpy's dtype.str ("<U6", "|b1", "<i8", "<f4", "|S3", "|O") as (kind, bits); false otherwise.
bool label_dtype(const std::string& text, char& kind, int& bits) {
  if (text.size() < 2 || std::string("<>|=").find(text[0]) == std::string::npos) return false;
  kind = text[1];
  bits = 0;
  if (text.size() == 2) return kind == 'O';  // "|O": Python objects (str, bool, int, float labels)
  int size = 0;
  const auto [ptr, ec] = std::from_chars(text.data() + 2, text.data() + text.size(), size);
  if (ec != std::errc() || ptr != text.data() + text.size() || size <= 0) return false;
  bits = 8 * size;
  switch (kind) {
    case 'b': return size == 1;
    case 'i':
    case 'u': return size == 1 || size == 2 || size == 4 || size == 8;
    case 'f': return size == 2 || size == 4 || size == 8;
    case 'U':
    case 'S': return true;
    default: return false;
  }
}

}  // namespace

std::vector<std::string> class_names(const Metadata& metadata, Loss loss, Index n_outputs) {
  std::size_t k = 0;  // the labels the model predicts (Python's TargetSpec.n_labels)
  if (loss == Loss::BinaryCrossentropy && n_outputs == 1) k = 2;
  if (loss == Loss::CategoricalCrossentropy) k = std::size_t(n_outputs);
  const auto entry = metadata.find("classes");
  std::vector<std::string> names;
  if (k == 0) {
    if (entry != metadata.end()) bad("metadata 'classes' lists labels but the model predicts no class");
    return names;
  }
  if (entry == metadata.end()) {  // class ids
    for (std::size_t i = 0; i < k; ++i) names.push_back(std::to_string(i));
    return names;
  }
  bool dropped = false, nested = false;
  const json c = bounded_json(entry->second, "classes", k, dropped, nested);
  if (nested) bad("metadata 'classes' holds a list or an object where a label goes");
  const auto dtype = c.is_object() ? c.find("dtype") : c.end();
  const auto values = c.is_object() ? c.find("values") : c.end();
  if (!c.is_object() || c.size() != 2 || dtype == c.end() || values == c.end() || !dtype->is_string() ||
      !values->is_array())
    bad("metadata 'classes' must be an object {\"dtype\": \"<U5\", \"values\": [...]}");
  char kind = 0;
  int bits = 0;
  if (!label_dtype(dtype->get<std::string>(), kind, bits))
    bad("metadata 'classes': dtype '" + clip(dtype->get<std::string>(), 20) + "' is not one labels are stored in");
  if (dropped || values->size() != k)
    bad("metadata 'classes' lists " + std::string(dropped ? "more than " : "") + std::to_string(values->size()) +
        " labels but the model predicts " + std::to_string(k) + " classes");
  for (std::size_t i = 0; i < k; ++i) names.push_back(label_text((*values)[i], kind, bits, i));
  return names;
}

std::vector<std::string> feature_names(const Metadata& metadata, Index n_inputs) {
  const auto entry = metadata.find("feature_names_in");
  std::vector<std::string> names;
  if (entry == metadata.end()) return names;
  const json list = parse_value(entry->second, "metadata 'feature_names_in'", 2, std::size_t(n_inputs) + kSpareValues);
  if (!list.is_array()) bad("metadata 'feature_names_in' must be a JSON list of strings");
  for (const json& name : list) {
    if (!name.is_string()) bad("metadata 'feature_names_in' must be a JSON list of strings, got " + describe(name));
    names.push_back(name.get<std::string>());
  }
  if (Index(names.size()) != n_inputs)
    bad("metadata 'feature_names_in' lists " + std::to_string(names.size()) + " names for a model with " +
        std::to_string(n_inputs) + " inputs");
  return names;
}

std::vector<std::string> ModelFile::classes() const {
  return std::visit([&](const auto& net) { return class_names(metadata, net.loss(), net.n_outputs()); }, network);
}

std::vector<std::string> ModelFile::feature_names() const {
  return std::visit([&](const auto& net) { return fastmlp::feature_names(metadata, net.n_inputs()); }, network);
}

template <class T>
std::vector<Index> Model<T>::predict_ids(const ConstRef<T>& X) {
  if (classes.empty())
    throw std::invalid_argument(std::string("predict_class needs a classifier; this model's loss is ") +
                                loss_name(network.loss()) + " with " + std::to_string(network.n_outputs()) +
                                " outputs (it predicts no class)");
  const auto A = network.forward(X);
  std::vector<Index> ids(std::size_t(A.rows()));
  for (Index i = 0; i < A.rows(); ++i) {
    Index best = 0;
    if (A.cols() == 1) {
      best = A(i, 0) >= T(0.5) ? 1 : 0;  // one sigmoid output: Python's threshold
    } else {
      for (Index j = 1; j < A.cols(); ++j)
        if (A(i, j) > A(i, best)) best = j;  // the first of equal maxima, as numpy's argmax
    }
    ids[std::size_t(i)] = best;
  }
  return ids;
}

template <class T>
std::vector<std::string> Model<T>::predict_class(const ConstRef<T>& X) {
  std::vector<std::string> out;
  for (const Index id : predict_ids(X)) out.push_back(classes[std::size_t(id)]);
  return out;
}

namespace {

template <class T>
Model<T> model_of(const Checked& c, const unsigned char* data) {
  Model<T> m{build_network<T>(c.arch, data), metadata_of(c.header), {}, {}, {}};
  m.classes = class_names(m.metadata, m.network.loss(), m.network.n_outputs());
  m.feature_names = feature_names(m.metadata, m.network.n_inputs());
  m.columns = RawColumns::of(m.network.configs(), m.network.n_inputs(), m.feature_names);
  return m;
}

}  // namespace

template <class T>
Model<T> load_model(const std::string& path) {
  return with_file(path, check, model_of<T>);
}

template <class T>
Model<T> load_model_bytes(const unsigned char* data, std::size_t size) {
  return with_bytes(data, size, check, model_of<T>);
}

template <class T>
Network<T> load_network(const std::string& path) {
  return with_file(path, check,
                   [](const Checked& c, const unsigned char* data) { return build_network<T>(c.arch, data); });
}

ModelFile read_model_file(const std::string& path) { return with_file(path, check, as_stored); }

ModelFile read_model_bytes(const unsigned char* data, std::size_t size) {
  return with_bytes(data, size, check, as_stored);
}

template <class T>
void save_network(const Network<T>& net, const std::string& path, const Metadata& extra) {
  write_file_atomic(path, model_file_bytes(net, extra));  // the bytes are complete before any file is touched
}

template Network<float> load_network<float>(const std::string&);
template Network<double> load_network<double>(const std::string&);
template void save_network<float>(const Network<float>&, const std::string&, const Metadata&);
template void save_network<double>(const Network<double>&, const std::string&, const Metadata&);
template std::string model_file_bytes<float>(const Network<float>&, const Metadata&);
template std::string model_file_bytes<double>(const Network<double>&, const Metadata&);
template struct Model<float>;
template struct Model<double>;
template Model<float> load_model<float>(const std::string&);
template Model<double> load_model<double>(const std::string&);
template Model<float> load_model_bytes<float>(const unsigned char*, std::size_t);
template Model<double> load_model_bytes<double>(const unsigned char*, std::size_t);

}  // namespace fastmlp
