// The model schema: which tensors and metadata a fastmlp model file holds (the layout:
// fastmlp/serialize.hpp), read from a checked safetensors header (safetensors.hpp) into a Network
// and written from one. Every kind of entry in the "layers" list is one row of kLayerKinds below:
// its "type", its fields (LayerSpec <-> JSON) and its tensors, read and written from the same row,
// so a new layer kind adds its entries there.
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

#include "fastmlp/serialize.hpp"
#include "safetensors.hpp"

#ifndef FASTMLP_VERSION
#error "FASTMLP_VERSION must be defined by the build (CMakeLists.txt passes pyproject.toml's version)"
#endif

namespace fastmlp {

using namespace io;  // the reader (safetensors.hpp) and the errors (errors.hpp)

namespace {

constexpr std::uint64_t kMaxDim = 2147483647;  // layer sizes: 2^31 - 1
const char* const kOwnKeys[] = {"fastmlp_format", "fastmlp_version", "dtype", "loss", "l2", "layers"};

// ------------------------------------------------------------------ the tensors

// Where a tensor's values lie in a Network (for its Dense layer l).
enum class Slot { W, b, gamma, beta, running_mean, running_var };

// One tensor of a layer entry, named "layers.<the entry's position>.<suffix>".
struct TensorSlot {
  const char* suffix;
  Slot slot;
};

// Its shape: W is (n_in, n_out), every other tensor holds one value per unit.
std::vector<std::uint64_t> shape_of(Slot slot, const LayerSpec& s) {
  if (slot == Slot::W) return {std::uint64_t(s.n_in), std::uint64_t(s.n_out)};
  return {std::uint64_t(s.n_out)};
}

// Its values in `net`: in the parameter buffer (W, b, gamma, beta) or the running statistics.
template <class T>
const T* values_of(const Network<T>& net, Index l, Slot slot) {
  const Index n = net.layers()[std::size_t(l)].n_out;
  switch (slot) {
    case Slot::W: return net.params() + net.weight_offset(l);
    case Slot::b: return net.params() + net.bias_offset(l);
    case Slot::gamma: return net.params() + net.norm_offset(l);
    case Slot::beta: return net.params() + net.norm_offset(l) + n;
    case Slot::running_mean: return net.running_mean_of(l);
    case Slot::running_var: return net.running_mean_of(l) + n;
  }
  throw std::logic_error("fastmlp: unknown tensor slot");
}

// ------------------------------------------------------------------ the architecture

// A tensor of the file and where its values go.
struct Bound {
  const TensorInfo* tensor;
  Slot slot;
};

struct Architecture {
  DType dtype = DType::F32;
  Loss loss = Loss::MeanSquaredError;
  double l2 = 0.0;
  std::vector<LayerSpec> layers;
  std::vector<std::vector<Bound>> tensors;  // per Dense: weight, bias (, gamma, beta (, running mean, variance))
};

// An entry of the "layers" list being read: layers[position], of kind `type`.
struct Entry {
  const json& e;
  std::size_t position;  // names its tensors
  std::string where;     // "layers[i]", for messages
  const char* type;
};

// What reading the "layers" list has built so far; each kind's reader adds to it.
struct LayersReader {
  const Header& h;
  Architecture& a;
  std::string_view dtype;     // the model's, as the metadata spells it
  bool prev_dense = false;    // the previous entry is a Dense layer or its normalization
  std::size_t n_tensors = 0;  // bound so far: the file may hold no others

  // The entry's tensors, each of the model's dtype and of its shape for the Dense layer
  // a.layers.back(), bound to that layer.
  void bind(const Entry& at, const std::vector<TensorSlot>& slots) {
    for (const TensorSlot& ts : slots) {
      const std::string name = "layers." + std::to_string(at.position) + "." + ts.suffix;
      const TensorInfo* t = h.tensor(name);
      if (!t) bad("tensor '" + name + "' is missing");
      if (t->dtype != a.dtype)
        bad("tensor '" + name + "' has dtype " + (t->dtype == DType::F32 ? "F32" : "F64") +
            " but the model's dtype is " + std::string(dtype));
      if (!h.shape_is(*t, shape_of(ts.slot, a.layers.back())))
        bad("tensor '" + name + "' has the wrong shape for " + at.where);
      ++n_tensors;
      a.tensors.back().push_back({t, ts.slot});
    }
  }
};

// ------------------------------------------------------------------ the layer kinds

// {"type": "Dense", "n_in": 4, "n_out": 8, "activation": "relu", "alpha": null[, "init": "he_normal"]}:
// a new Dense layer.
void read_dense(const Entry& at, LayersReader& r) {
  const std::string& where = at.where;
  LayerSpec s;
  bool alpha_given = false;
  for (const auto& [k, v] : at.e.items()) {
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
  r.a.layers.push_back(s);
  r.a.tensors.emplace_back();
  r.prev_dense = true;
}

void write_dense(const LayerSpec& s, ordered_json& entry) {
  const bool has_alpha = s.activation == Activation::LeakyRelu || s.activation == Activation::Elu;
  entry["n_in"] = s.n_in;
  entry["n_out"] = s.n_out;
  entry["activation"] = activation_name(s.activation);
  entry["alpha"] = nullptr;
  if (has_alpha) entry["alpha"] = s.alpha;
  if (s.init != Init::Default) entry["init"] = init_name(s.init);
}

// {"type": "BatchNormalization" | "LayerNormalization", "epsilon": 0.001[, "momentum": 0.99]}: the
// `norm` of the Dense layer it follows (before its Dropout).
void read_norm(const Entry& at, LayersReader& r, Norm norm) {
  const std::string& where = at.where;
  Architecture& a = r.a;
  if (!r.prev_dense || a.layers.back().dropout > 0.0 || a.layers.back().norm != Norm::None)
    bad(where + ": a " + at.type + " must follow a Dense layer (before its Dropout)");
  LayerSpec& s = a.layers.back();
  s.norm = norm;
  for (const auto& [k, v] : at.e.items()) {
    if (k == "type") continue;
    if ((k == "epsilon" || (k == "momentum" && s.norm == Norm::Batch)) &&
        as_double(v, k == "epsilon" ? s.norm_epsilon : s.norm_momentum))
      continue;
    bad(where + ": unknown field or not a number: '" + clip(k, 40) + "'");
  }
  or_bad(where + ": ", [&] { validate_layer(s); });
}

void write_norm(const LayerSpec& s, ordered_json& entry) {
  entry["epsilon"] = s.norm_epsilon;
  if (s.norm == Norm::Batch) entry["momentum"] = s.norm_momentum;
}

// {"type": "Dropout", "rate": 0.5}: the `dropout` rate of the Dense layer it follows (as in
// fastmlp.Sequential: a Dropout must follow a Dense layer and cannot be last).
void read_dropout(const Entry& at, LayersReader& r) {
  const std::string& where = at.where;
  const json& e = at.e;
  const auto rate = e.find("rate");
  double p;
  if (e.size() != 2 || rate == e.end() || !as_double(*rate, p) || p < 0 || p >= 1)
    bad(where + ": a Dropout needs exactly a 'rate' in [0, 1)");
  if (!r.prev_dense || r.a.layers.back().dropout > 0.0) bad(where + ": a Dropout must follow a Dense layer");
  r.a.layers.back().dropout = p;  // the Network checks that it is not the output layer
  r.prev_dense = false;
}

void write_dropout(const LayerSpec& s, ordered_json& entry) { entry["rate"] = s.dropout; }

// A kind of entry in the "layers" list. A Dense layer (a LayerSpec) is written as the entries of
// the kinds it uses, in this table's order; reading an entry calls its kind's `read`, then binds
// its `tensors` to the Dense layer read last. A new kind is a row of kLayerKinds, its read and
// write functions, and a Slot (with its place in values_of) for each new tensor.
struct LayerKind {
  const char* type;                                        // "type" in the file
  std::vector<TensorSlot> tensors;                         // its tensors, in the file's order
  bool (*used)(const LayerSpec& s);                        // whether layer s has this entry
  void (*write)(const LayerSpec& s, ordered_json& entry);  // its fields after "type"
  void (*read)(const Entry& at, LayersReader& r);          // its fields into r.a
};

const LayerKind kLayerKinds[] = {
    {"Dense", {{"weight", Slot::W}, {"bias", Slot::b}}, [](const LayerSpec&) { return true; }, write_dense, read_dense},
    {"BatchNormalization",  // keeps its running statistics
     {{"gamma", Slot::gamma},
      {"beta", Slot::beta},
      {"running_mean", Slot::running_mean},
      {"running_var", Slot::running_var}},
     [](const LayerSpec& s) { return s.norm == Norm::Batch; },
     write_norm,
     [](const Entry& at, LayersReader& r) { read_norm(at, r, Norm::Batch); }},
    {"LayerNormalization",
     {{"gamma", Slot::gamma}, {"beta", Slot::beta}},
     [](const LayerSpec& s) { return s.norm == Norm::Layer; },
     write_norm,
     [](const Entry& at, LayersReader& r) { read_norm(at, r, Norm::Layer); }},
    {"Dropout", {}, [](const LayerSpec& s) { return s.dropout > 0.0; }, write_dropout, read_dropout},
};

const LayerKind* layer_kind(const std::string& type) {
  for (const LayerKind& kind : kLayerKinds)
    if (type == kind.type) return &kind;
  return nullptr;
}

// "'Dense', ... or 'Dropout'"
std::string layer_kind_names() {
  std::string names;
  const std::size_t n = std::size(kLayerKinds);
  for (std::size_t i = 0; i < n; ++i)
    names += (i == 0 ? "'" : i + 1 == n ? " or '" : ", '") + std::string(kLayerKinds[i].type) + "'";
  return names;
}

// ------------------------------------------------------------------ reading

double meta_number(std::string_view text, const std::string& key) {
  const json v = parse_value(text, "metadata '" + key + "'", 1, 0);
  double d;
  if (!as_double(v, d)) bad("metadata '" + key + "' must be a finite number, got " + describe(v));
  return d;
}

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
  // A Dense entry has two tensors and a Dropout follows a Dense: never more entries than tensors.
  const json layers = parse_value(*h.get("layers"), "metadata 'layers'", 4, std::max<std::size_t>(h.tensors.size(), 1));
  if (!layers.is_array() || layers.empty()) bad("metadata 'layers' must be a non-empty JSON list");
  LayersReader r{h, a, dtype};
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const json& e = layers[i];
    const std::string where = "layers[" + std::to_string(i) + "]";
    const auto type = e.is_object() ? e.find("type") : e.end();
    if (!e.is_object() || type == e.end() || !type->is_string()) bad(where + " must be an object with a 'type'");
    const std::string& name = type->get_ref<const std::string&>();
    const LayerKind* kind = layer_kind(name);
    if (!kind) bad(where + " has unknown type '" + clip(name, 40) + "' (expected " + layer_kind_names() + ")");
    const Entry at{e, i, where, kind->type};
    kind->read(at, r);
    r.bind(at, kind->tensors);
  }
  if (a.layers.empty()) bad("the model has no Dense layer");
  if (r.n_tensors != h.tensors.size()) bad("the file holds unexpected tensors");
  return a;
}

template <class T>
Network<T> build_network(const Architecture& arch, const unsigned char* data) {
  Network<T> net = or_bad("", [&] { return Network<T>(arch.layers, arch.loss, T(arch.l2)); });
  for (Index l = 0; l < net.num_layers(); ++l) {
    for (const auto& [t, slot] : arch.tensors[std::size_t(l)]) {
      T* dst = const_cast<T*>(values_of(std::as_const(net), l, slot));  // net is ours: writable
      arch.dtype == DType::F32 ? copy_tensor<T, float>(data, *t, dst) : copy_tensor<T, double>(data, *t, dst);
      if (slot == Slot::running_var && (net.running_var(l).array() < T(0)).any())  // sqrt(var + eps) would be NaN
        bad("tensor '" + clip(t->name, 60) + "' holds a negative variance");
    }
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
  ordered_json tensors = ordered_json::object();
  std::uint64_t offset = 0;
  std::vector<std::pair<Index, Slot>> order;  // the tensors' values in the data: (layer, slot)
  // The next tensor of the data: `name`, of this shape, its bytes right after the previous tensor's.
  auto add_tensor = [&](const std::string& name, const std::vector<std::uint64_t>& shape) {
    std::uint64_t bytes = sizeof(T);
    for (const std::uint64_t d : shape) bytes *= d;
    tensors[name] = {
        {"dtype", code}, {"shape", shape}, {"data_offsets", ordered_json::array({offset, offset + bytes})}};
    offset += bytes;
  };
  std::size_t pos = 0;  // position in the Python layer list (Dropouts included)
  for (Index l = 0; l < net.num_layers(); ++l) {
    const LayerSpec& s = net.layers()[std::size_t(l)];
    for (const LayerKind& kind : kLayerKinds) {
      if (!kind.used(s)) continue;
      ordered_json entry = {{"type", kind.type}};
      kind.write(s, entry);
      layers.push_back(std::move(entry));
      for (const TensorSlot& t : kind.tensors) {
        add_tensor("layers." + std::to_string(pos) + "." + t.suffix, shape_of(t.slot, s));
        order.emplace_back(l, t.slot);
      }
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
  for (const auto& [l, slot] : order) {
    // W, b (, gamma, beta) as they lie in the parameter buffer (, the running statistics)
    const T* w = values_of(net, l, slot);
    std::uint64_t count = 1;
    for (const std::uint64_t d : shape_of(slot, net.layers()[std::size_t(l)])) count *= d;
    for (std::uint64_t i = 0; i < count; ++i) {
      if (!std::isfinite(double(w[i])))
        throw std::invalid_argument("cannot save: layer " + std::to_string(l) + " has NaN or infinite parameters");
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
