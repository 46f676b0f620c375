// The C API (fastmlp/fastmlp.h): each function checks its arguments, runs the C++ core inside a
// try block, and turns an exception into a status and this thread's message. Nothing of C++
// (exceptions, templates, std types) leaves these functions.
#include "fastmlp/fastmlp.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "capi_model.hpp"

#ifndef FASTMLP_VERSION
#error "FASTMLP_VERSION must be defined by the build (cpp/capi/CMakeLists.txt passes pyproject.toml's version)"
#endif

using fastmlp::Index;
using fastmlp::capi::Inference;
using fastmlp::capi::Want;
using fastmlp::capi::write;

namespace {

// The latest failing call's message, per thread: a fixed array (no allocation, nothing to destroy).
thread_local char last_error[1024] = "";

}  // namespace

fastmlp_status fastmlp::capi::fail(fastmlp_status status, const char* where, const char* msg) {
  std::size_t at = 0;
  const std::size_t cap = sizeof last_error - 1;
  for (const char* s : {where, ": ", msg}) {
    std::size_t n = std::strlen(s);
    if (n > cap - at) {  // cut at a UTF-8 character boundary
      n = cap - at;
      while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    }
    std::memcpy(last_error + at, s, n);
    at += n;
  }
  last_error[at] = '\0';
  return status;
}

namespace {

using fastmlp::capi::fail;

// f() with every exception turned into a status: the model file's errors are INVALID_MODEL, a file
// that cannot be read IO, other invalid arguments `invalid`.
template <class F>
fastmlp_status guarded(const char* where, fastmlp_status invalid, F f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return fail(FASTMLP_ERR_OUT_OF_MEMORY, where, "out of memory");
  } catch (const std::system_error& e) {
    return fail(FASTMLP_ERR_IO, where, e.what());
  } catch (const std::invalid_argument& e) {
    const bool file = std::strncmp(e.what(), "not a valid fastmlp model file", 30) == 0;
    return fail(file ? FASTMLP_ERR_INVALID_MODEL : invalid, where, e.what());
  } catch (const std::exception& e) {
    return fail(FASTMLP_ERR_INTERNAL, where, e.what());
  } catch (...) {
    return fail(FASTMLP_ERR_INTERNAL, where, "an unknown C++ exception");
  }
}

fastmlp_status null_argument(const char* where, const char* name) {
  const std::string msg = std::string(name) + " is NULL";
  return fail(FASTMLP_ERR_INVALID_ARGUMENT, where, msg.c_str());
}

// ------------------------------------------------------------------ loading

fastmlp_status load(fastmlp::ModelFile file, fastmlp_model** out) {
  const auto [loss, n_in, n_out] = std::visit(
      [](const auto& net) { return std::tuple(net.loss(), std::size_t(net.n_inputs()), std::size_t(net.n_outputs())); },
      file.network);
  fastmlp::capi::Labels labels = fastmlp::capi::read_labels(file.metadata, loss, n_out, n_in);
  fastmlp_task task = FASTMLP_REGRESSION;
  if (fastmlp::is_classification(loss))
    task = fastmlp::capi::n_labels(loss, n_out) ? FASTMLP_CLASSIFICATION : FASTMLP_MULTILABEL;
  const std::size_t n_classes = labels.classes.size();
  fastmlp::RawColumns columns = std::visit(
      [&](const auto& net) { return fastmlp::RawColumns::of(net.configs(), net.n_inputs(), labels.feature_names); },
      file.network);
  *out = new fastmlp_model{std::move(file.network), loss, n_in, n_out, n_classes, task, std::move(labels),
                           std::move(columns)};
  return FASTMLP_OK;
}

// ------------------------------------------------------------------ predicting

// Rows of X as the model's T: X itself, or converted into the workspace's input buffer.
template <class T, class U>
const T* as_model_type(Inference<T>& inf, const U* X, Index m) {
  if constexpr (std::is_same_v<T, U>) {
    (void)inf, (void)m;
    return X;
  } else {
    T* x = inf.input_buffer();
    for (Index k = 0; k < m * inf.n_inputs(); ++k) x[k] = T(X[k]);
    return x;
  }
}

// The rows in chunks of at most max_rows. With several chunks every row is checked before any output
// is written, so a call refused for its inputs writes nothing.
template <class T, class U, class V>
void run(const fastmlp_model& model, Inference<T>& inf, const U* X, std::size_t n, Want want, V* out) {
  const std::size_t rows = std::size_t(inf.max_rows()), d = model.n_inputs;
  const std::size_t width = want == Want::Class ? 1 : want == Want::Proba ? model.n_classes : model.n_outputs;
  if (n > rows)
    for (std::size_t r0 = 0; r0 < n; r0 += rows) {
      const Index m = Index(std::min(rows, n - r0));
      inf.check(as_model_type(inf, X + r0 * d, m), m, r0);
    }
  for (std::size_t r0 = 0; r0 < n; r0 += rows) {
    const Index m = Index(std::min(rows, n - r0));
    const T* x = as_model_type(inf, X + r0 * d, m);
    if (n <= rows) inf.check(x, m, r0);
    write(model, want, inf.forward(x, m, r0), m, out + r0 * width);
  }
}

// A workspace used by one call at a time: a second thread gets FASTMLP_ERR_BUSY (never waits).
class Claim {
 public:
  explicit Claim(std::atomic_flag& busy) : busy_(busy), got_(!busy.test_and_set(std::memory_order_acquire)) {}
  ~Claim() {
    if (got_) busy_.clear(std::memory_order_release);
  }
  bool got() const { return got_; }

 private:
  std::atomic_flag& busy_;
  bool got_;
};

template <class U, class V>
fastmlp_status predict(const char* where, Want want, fastmlp_workspace* ws, const U* X, std::size_t n_rows, V* out) {
  if (!ws) return null_argument(where, "workspace");
  if (!X) return null_argument(where, "X");
  if (!out) return null_argument(where, want == Want::Class ? "classes" : want == Want::Proba ? "proba" : "outputs");
  const fastmlp_model& model = *ws->model;
  if (n_rows == 0) return fail(FASTMLP_ERR_INVALID_ARGUMENT, where, "n_rows is 0 (X has no rows)");
  const std::size_t widest = std::max({model.n_inputs, model.n_outputs, model.n_classes});
  if (n_rows > std::size_t(PTRDIFF_MAX) / sizeof(double) / widest)
    return fail(FASTMLP_ERR_INVALID_ARGUMENT, where, "n_rows is too large for the arrays to exist");
  if (want == Want::Proba && model.task == FASTMLP_REGRESSION)
    return fail(FASTMLP_ERR_NOT_CLASSIFIER, where,
                "the model is a regression model (no classes): use fastmlp_predict for its outputs");
  if (want == Want::Class && model.task != FASTMLP_CLASSIFICATION)
    return fail(FASTMLP_ERR_NOT_CLASSIFIER, where,
                model.task == FASTMLP_MULTILABEL
                    ? "the model is multi-label (each sigmoid output a yes/no, no single class): use "
                      "fastmlp_predict_proba"
                    : "the model is a regression model (no classes): use fastmlp_predict for its outputs");
  const Claim claim(ws->busy);
  if (!claim.got())
    return fail(FASTMLP_ERR_BUSY, where,
                "the workspace is in use by another thread (give each thread its own workspace)");
  return guarded(where, FASTMLP_ERR_INVALID_ARGUMENT, [&] {
    std::visit([&](auto& inf) { run(model, inf, X, n_rows, want, out); }, ws->inference);
    return FASTMLP_OK;
  });
}

template <class F>
fastmlp_status query(const char* where, const fastmlp_model* model, const void* out, F f) {
  if (!model) return null_argument(where, "model");
  if (!out) return null_argument(where, "the output pointer");
  f(*model);
  return FASTMLP_OK;
}

}  // namespace

extern "C" {

const char* fastmlp_last_error(void) { return last_error; }

const char* fastmlp_status_name(fastmlp_status status) {
  // A C caller may pass any int (a C enum is one): read it as its integer, since loading a value that is
  // no enumerator's into the C++ enum is undefined behaviour (UBSan: "not a valid value for type").
  std::underlying_type_t<fastmlp_status> code;
  std::memcpy(&code, &status, sizeof code);
  switch (code) {
    case FASTMLP_OK: return "FASTMLP_OK";
    case FASTMLP_ERR_INVALID_ARGUMENT: return "FASTMLP_ERR_INVALID_ARGUMENT";
    case FASTMLP_ERR_INVALID_MODEL: return "FASTMLP_ERR_INVALID_MODEL";
    case FASTMLP_ERR_IO: return "FASTMLP_ERR_IO";
    case FASTMLP_ERR_OUT_OF_MEMORY: return "FASTMLP_ERR_OUT_OF_MEMORY";
    case FASTMLP_ERR_NOT_CLASSIFIER: return "FASTMLP_ERR_NOT_CLASSIFIER";
    case FASTMLP_ERR_BUSY: return "FASTMLP_ERR_BUSY";
    case FASTMLP_ERR_INTERNAL: return "FASTMLP_ERR_INTERNAL";
  }
  return "unknown status";
}

const char* fastmlp_version(void) { return FASTMLP_VERSION; }
int fastmlp_c_api_version(void) { return FASTMLP_C_API_VERSION; }

fastmlp_status fastmlp_model_load(const char* path, fastmlp_model** model) {
  const char* where = "fastmlp_model_load";
  if (!path) return null_argument(where, "path");
  if (!model) return null_argument(where, "model");
  return guarded(where, FASTMLP_ERR_IO, [&] { return load(fastmlp::read_model_file(path), model); });
}

fastmlp_status fastmlp_model_load_bytes(const void* data, size_t size, fastmlp_model** model) {
  const char* where = "fastmlp_model_load_bytes";
  if (!data && size) return null_argument(where, "data");
  if (!model) return null_argument(where, "model");
  static const unsigned char nothing = 0;  // size 0: a valid pointer to no bytes
  const auto* bytes = data ? static_cast<const unsigned char*>(data) : &nothing;
  return guarded(where, FASTMLP_ERR_INVALID_MODEL, [&] { return load(fastmlp::read_model_bytes(bytes, size), model); });
}

void fastmlp_model_free(fastmlp_model* model) { delete model; }

fastmlp_status fastmlp_model_n_inputs(const fastmlp_model* model, size_t* n_inputs) {
  return query(__func__, model, n_inputs, [&](const fastmlp_model& m) { *n_inputs = m.n_inputs; });
}
fastmlp_status fastmlp_model_n_outputs(const fastmlp_model* model, size_t* n_outputs) {
  return query(__func__, model, n_outputs, [&](const fastmlp_model& m) { *n_outputs = m.n_outputs; });
}
fastmlp_status fastmlp_model_dtype(const fastmlp_model* model, fastmlp_dtype* dtype) {
  return query(__func__, model, dtype,
               [&](const fastmlp_model& m) { *dtype = m.network.index() == 0 ? FASTMLP_FLOAT32 : FASTMLP_FLOAT64; });
}
fastmlp_status fastmlp_model_task(const fastmlp_model* model, fastmlp_task* task) {
  return query(__func__, model, task, [&](const fastmlp_model& m) { *task = m.task; });
}
fastmlp_status fastmlp_model_n_classes(const fastmlp_model* model, size_t* n_classes) {
  return query(__func__, model, n_classes, [&](const fastmlp_model& m) { *n_classes = m.n_classes; });
}

fastmlp_status fastmlp_model_class_label(const fastmlp_model* model, size_t i, const char** label) {
  const char* where = __func__;
  if (!model) return null_argument(where, "model");
  if (!label) return null_argument(where, "label");
  if (i >= model->labels.classes.size()) {
    const std::string msg =
        model->n_classes ? "class " + std::to_string(i) + " is not in [0, " + std::to_string(model->n_classes) + ")"
                         : std::string("the model is a regression model (no classes)");
    return fail(model->n_classes ? FASTMLP_ERR_INVALID_ARGUMENT : FASTMLP_ERR_NOT_CLASSIFIER, where, msg.c_str());
  }
  *label = model->labels.classes[i].c_str();
  return FASTMLP_OK;
}

fastmlp_status fastmlp_model_has_feature_names(const fastmlp_model* model, int* has_names) {
  return query(__func__, model, has_names,
               [&](const fastmlp_model& m) { *has_names = m.labels.feature_names.empty() ? 0 : 1; });
}

fastmlp_status fastmlp_model_feature_name(const fastmlp_model* model, size_t j, const char** name) {
  const char* where = __func__;
  if (!model) return null_argument(where, "model");
  if (!name) return null_argument(where, "name");
  const auto& names = model->labels.feature_names;
  if (names.empty()) return fail(FASTMLP_ERR_INVALID_ARGUMENT, where, "the model file holds no feature names");
  if (j >= names.size()) {
    const std::string msg = "feature " + std::to_string(j) + " is not in [0, " + std::to_string(names.size()) + ")";
    return fail(FASTMLP_ERR_INVALID_ARGUMENT, where, msg.c_str());
  }
  *name = names[j].c_str();
  return FASTMLP_OK;
}

fastmlp_status fastmlp_workspace_create(const fastmlp_model* model, size_t max_rows, fastmlp_workspace** workspace) {
  const char* where = __func__;
  if (!model) return null_argument(where, "model");
  if (!workspace) return null_argument(where, "workspace");
  const std::size_t widest = std::max({model->n_inputs, model->n_outputs, std::size_t(1)});
  if (max_rows == 0 || max_rows > std::size_t(1) << 24 || max_rows > std::size_t(PTRDIFF_MAX) / 8 / widest) {
    const std::string msg = "max_rows must be in [1, 2^24], got " + std::to_string(max_rows);
    return fail(FASTMLP_ERR_INVALID_ARGUMENT, where, msg.c_str());
  }
  return guarded(where, FASTMLP_ERR_INVALID_ARGUMENT, [&] {
    *workspace =
        std::visit([&](const auto& net) { return new fastmlp_workspace(model, net, Index(max_rows)); }, model->network);
    return FASTMLP_OK;
  });
}

void fastmlp_workspace_free(fastmlp_workspace* workspace) { delete workspace; }

fastmlp_status fastmlp_predict(fastmlp_workspace* ws, const float* X, size_t n_rows, float* outputs) {
  return predict(__func__, Want::Outputs, ws, X, n_rows, outputs);
}
fastmlp_status fastmlp_predict_f64(fastmlp_workspace* ws, const double* X, size_t n_rows, double* outputs) {
  return predict(__func__, Want::Outputs, ws, X, n_rows, outputs);
}
fastmlp_status fastmlp_predict_proba(fastmlp_workspace* ws, const float* X, size_t n_rows, float* proba) {
  return predict(__func__, Want::Proba, ws, X, n_rows, proba);
}
fastmlp_status fastmlp_predict_proba_f64(fastmlp_workspace* ws, const double* X, size_t n_rows, double* proba) {
  return predict(__func__, Want::Proba, ws, X, n_rows, proba);
}
fastmlp_status fastmlp_predict_class(fastmlp_workspace* ws, const float* X, size_t n_rows, int32_t* classes) {
  return predict(__func__, Want::Class, ws, X, n_rows, classes);
}
fastmlp_status fastmlp_predict_class_f64(fastmlp_workspace* ws, const double* X, size_t n_rows, int32_t* classes) {
  return predict(__func__, Want::Class, ws, X, n_rows, classes);
}

}  // extern "C"
