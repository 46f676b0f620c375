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
#include <utility>
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
  std::vector<LayerConfig> layers;
  std::vector<std::pair<const TensorInfo*, TensorSlot>> tensors;  // the file's, in the network's order
};

constexpr int kMaxNesting = 3;  // blocks inside blocks

// A JSON entry of the "layers" list as a LayerConfig: scalars as fields, "layers" as a block's list.
LayerConfig config_of(const json& e, const std::string& where, int depth) {
  const auto type = e.is_object() ? e.find("type") : e.end();
  if (!e.is_object() || type == e.end() || !type->is_string()) bad(where + " must be an object with a 'type'");
  LayerConfig c{type->get<std::string>(), {}, {}, false};
  for (const auto& [k, v] : e.items()) {
    if (k == "type") continue;
    if (k == "layers") {
      if (!v.is_array()) bad(where + ".layers must be a list");
      if (depth >= kMaxNesting) bad(where + ": blocks nest deeper than " + std::to_string(kMaxNesting) + " levels");
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
  if (const auto* text = h.get("seed")) {  // Python's seed for initialisation and shuffling; checked, not used here
    const json seed = parse_value(*text, "metadata 'seed'", 1, 0);
    std::uint64_t unused;
    if (!as_uint64(seed, unused)) bad("seed must be an integer in [0, 2**64), got " + describe(seed));
  }
  // Entries: at most 3 per tensor (a Dense's Activation and Dropout have none) and a few more.
  const json layers =
      parse_value(*h.get("layers"), "metadata 'layers'", 2 + 2 * kMaxNesting, 3 * h.tensors.size() + 16);
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

}  // namespace fastmlp
