// The layer kinds: each row names a type of the model file's "layers" list and the function that
// builds it (defined in the kind's own file). A new kind is its file and a row here.
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastmlp/layer.hpp"

namespace fastmlp {

#define FASTMLP_LAYER_KIND(name) \
  template <class T>             \
  std::unique_ptr<Layer<T>> name(const LayerConfig&, Index, const std::string&);
FASTMLP_LAYER_KIND(make_dense)
FASTMLP_LAYER_KIND(make_batch_norm)
FASTMLP_LAYER_KIND(make_layer_norm)
FASTMLP_LAYER_KIND(make_dropout)
FASTMLP_LAYER_KIND(make_activation)
FASTMLP_LAYER_KIND(make_residual)
FASTMLP_LAYER_KIND(make_standardization)
FASTMLP_LAYER_KIND(make_embedding)
FASTMLP_LAYER_KIND(make_column_embedding)
#undef FASTMLP_LAYER_KIND

namespace {

template <class T>
using Make = std::unique_ptr<Layer<T>> (*)(const LayerConfig&, Index, const std::string&);

struct Kind {
  const char* type;
  Make<float> f32;
  Make<double> f64;
  bool block = false;  // holds a "layers" list
};

const Kind kKinds[] = {
    {"Dense", make_dense<float>, make_dense<double>},
    {"BatchNormalization", make_batch_norm<float>, make_batch_norm<double>},
    {"LayerNormalization", make_layer_norm<float>, make_layer_norm<double>},
    {"Dropout", make_dropout<float>, make_dropout<double>},
    {"Activation", make_activation<float>, make_activation<double>},
    {"Residual", make_residual<float>, make_residual<double>, true},
    {"Normalization", make_standardization<float>, make_standardization<double>},
    {"Embedding", make_embedding<float>, make_embedding<double>},
    {"ColumnEmbedding", make_column_embedding<float>, make_column_embedding<double>},
};

}  // namespace

std::vector<std::string> layer_types() {
  std::vector<std::string> out;
  for (const Kind& k : kKinds) out.emplace_back(k.type);
  return out;
}

std::string layer_type_names() {
  std::string names;
  const std::size_t n = std::size(kKinds);
  for (std::size_t i = 0; i < n; ++i)
    names += (i == 0 ? "'" : i + 1 == n ? " or '" : ", '") + std::string(kKinds[i].type) + "'";
  return names;
}

template <class T>
std::unique_ptr<Layer<T>> make_layer(const LayerConfig& config, Index n_in, const std::string& where) {
  for (const Kind& k : kKinds) {
    if (config.type != k.type) continue;
    if (config.is_block && !k.block) throw std::invalid_argument(where + " has unknown fields: 'layers'");
    if constexpr (sizeof(T) == 4)
      return k.f32(config, n_in, where);
    else
      return k.f64(config, n_in, where);
  }
  throw std::invalid_argument(where + " has unknown type '" + config.type.substr(0, 40) + "' (expected " +
                              layer_type_names() + ")");
}
template std::unique_ptr<Layer<float>> make_layer<float>(const LayerConfig&, Index, const std::string&);
template std::unique_ptr<Layer<double>> make_layer<double>(const LayerConfig&, Index, const std::string&);

}  // namespace fastmlp
