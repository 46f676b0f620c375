// The class labels and feature names of a model file's metadata, for the C API (capi_model.hpp): the
// C++ API's readers (fastmlp/serialize.hpp: class_names, feature_names; bounded, checked), so C, C++ and
// Python give the same text for a label (Python's str(): "3", "True", floats as numpy prints them).
#include <string>
#include <vector>

#include "capi_model.hpp"

namespace fastmlp::capi {

std::size_t n_labels(Loss loss, std::size_t n_outputs) {
  if (loss == Loss::CategoricalCrossentropy) return n_outputs;
  if (loss == Loss::BinaryCrossentropy && n_outputs == 1) return 2;
  return 0;
}

Labels read_labels(const Metadata& meta, Loss loss, std::size_t n_outputs, std::size_t n_inputs) {
  Labels out{class_names(meta, loss, Index(n_outputs)), feature_names(meta, Index(n_inputs))};
  if (out.classes.empty() && is_classification(loss))  // multi-label: an id per output, as Python's classes_
    for (std::size_t i = 0; i < n_outputs; ++i) out.classes.push_back(std::to_string(i));
  return out;
}

}  // namespace fastmlp::capi
