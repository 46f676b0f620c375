// The C API on raw rows of text (fastmlp/fastmlp.h, "raw rows of text cells"): each row's cells
// encoded by the model's RawColumns (fastmlp/raw_rows.hpp, as Python's Columns.encode) straight into
// the workspace's input buffer, then the workspace's inference pass. Nothing is allocated per call
// (the cells are read in place; a refused call allocates its message).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "capi_model.hpp"

using fastmlp::Index;
using fastmlp::capi::fail;
using fastmlp::capi::Inference;
using fastmlp::capi::Want;
using fastmlp::capi::write;

namespace {

// Rows [r0, r0 + m) of the cells (n_rows x n_columns, row-major) as the network's rows, in the
// workspace's input buffer (max_rows x n_inputs of T).
template <class T>
T* encode(const fastmlp_model& model, Inference<T>& inf, const char* const* cells, std::size_t r0, Index m) {
  const std::size_t n = model.columns.size();
  std::string_view row[64];  // one row's cells as views: on the stack up to 64 raw columns
  T* x = inf.input_buffer();
  for (Index i = 0; i < m; ++i) {
    const std::size_t r = r0 + std::size_t(i);
    const char* const* c = cells + r * n;
    for (std::size_t j = 0; j < n; ++j)
      if (!c[j]) throw std::invalid_argument("cells[" + std::to_string(r * n + j) + "] is NULL");
    T* out = x + i * inf.n_inputs();
    if (n <= 64) {
      for (std::size_t j = 0; j < n; ++j) row[j] = c[j];
      model.columns.encode(row, n, r, out);
    } else {
      std::vector<std::string_view> wide(c, c + n);  // more than 64 raw columns: one allocation per row
      model.columns.encode(wide.data(), n, r, out);
    }
  }
  return x;
}

// In chunks of max_rows; with several chunks every row is encoded and checked before any output is
// written, so a refused call writes nothing.
template <class T, class V>
void run(const fastmlp_model& model, Inference<T>& inf, const char* const* cells, std::size_t n, Want want, V* out) {
  const std::size_t rows = std::size_t(inf.max_rows());
  const std::size_t width = want == Want::Class ? 1 : want == Want::Proba ? model.n_classes : model.n_outputs;
  if (n > rows)
    for (std::size_t r0 = 0; r0 < n; r0 += rows) {
      const Index m = Index(std::min(rows, n - r0));
      inf.check(encode(model, inf, cells, r0, m), m, r0);
    }
  for (std::size_t r0 = 0; r0 < n; r0 += rows) {
    const Index m = Index(std::min(rows, n - r0));
    const T* x = encode(model, inf, cells, r0, m);
    if (n <= rows) inf.check(x, m, r0);
    write(model, want, inf.forward(x, m, r0), m, out + r0 * width);
  }
}

template <class V>
fastmlp_status predict_text(const char* where, Want want, fastmlp_workspace* ws, const char* const* cells,
                            std::size_t n_rows, V* out) {
  if (!ws) return fail(FASTMLP_ERR_INVALID_ARGUMENT, where, "workspace is NULL");
  if (!cells) return fail(FASTMLP_ERR_INVALID_ARGUMENT, where, "cells is NULL");
  if (!out) return fail(FASTMLP_ERR_INVALID_ARGUMENT, where, "the output pointer is NULL");
  const fastmlp_model& model = *ws->model;
  if (n_rows == 0) return fail(FASTMLP_ERR_INVALID_ARGUMENT, where, "n_rows is 0 (no rows)");
  const std::size_t widest = std::max({model.columns.size(), model.n_outputs, model.n_classes, std::size_t(1)});
  if (n_rows > std::size_t(PTRDIFF_MAX) / sizeof(double) / widest)
    return fail(FASTMLP_ERR_INVALID_ARGUMENT, where, "n_rows is too large for the arrays to exist");
  if (!model.columns.can_encode())
    return fail(FASTMLP_ERR_INVALID_ARGUMENT, where,
                "the model's ColumnEmbedding has no vocabulary (made in C++?): use fastmlp_predict on encoded rows");
  if (want != Want::Outputs && model.task == FASTMLP_REGRESSION)
    return fail(FASTMLP_ERR_NOT_CLASSIFIER, where,
                "the model is a regression model (no classes): use fastmlp_predict_text for its outputs");
  if (want == Want::Class && model.task != FASTMLP_CLASSIFICATION)
    return fail(FASTMLP_ERR_NOT_CLASSIFIER, where,
                "the model is multi-label (each sigmoid output a yes/no, no single class): use "
                "fastmlp_predict_proba_text");
  if (ws->busy.test_and_set(std::memory_order_acquire))
    return fail(FASTMLP_ERR_BUSY, where,
                "the workspace is in use by another thread (give each thread its own workspace)");
  fastmlp_status status = FASTMLP_OK;
  try {
    std::visit([&](auto& inf) { run(model, inf, cells, n_rows, want, out); }, ws->inference);
  } catch (const std::bad_alloc&) {
    status = fail(FASTMLP_ERR_OUT_OF_MEMORY, where, "out of memory");
  } catch (const std::invalid_argument& e) {
    status = fail(FASTMLP_ERR_INVALID_ARGUMENT, where, e.what());
  } catch (const std::exception& e) {
    status = fail(FASTMLP_ERR_INTERNAL, where, e.what());
  } catch (...) {
    status = fail(FASTMLP_ERR_INTERNAL, where, "an unknown C++ exception");
  }
  ws->busy.clear(std::memory_order_release);
  return status;
}

}  // namespace

extern "C" {

fastmlp_status fastmlp_model_n_columns(const fastmlp_model* model, size_t* n_columns) {
  if (!model) return fail(FASTMLP_ERR_INVALID_ARGUMENT, __func__, "model is NULL");
  if (!n_columns) return fail(FASTMLP_ERR_INVALID_ARGUMENT, __func__, "n_columns is NULL");
  *n_columns = model->columns.size();
  return FASTMLP_OK;
}

fastmlp_status fastmlp_model_column_name(const fastmlp_model* model, size_t j, const char** name) {
  if (!model) return fail(FASTMLP_ERR_INVALID_ARGUMENT, __func__, "model is NULL");
  if (!name) return fail(FASTMLP_ERR_INVALID_ARGUMENT, __func__, "name is NULL");
  const auto& names = model->columns.names();
  if (names.empty())
    return fail(FASTMLP_ERR_INVALID_ARGUMENT, __func__,
                "the model file holds no column names (its columns are its inputs, in order)");
  if (j >= names.size()) {
    const std::string msg = "column " + std::to_string(j) + " is not in [0, " + std::to_string(names.size()) + ")";
    return fail(FASTMLP_ERR_INVALID_ARGUMENT, __func__, msg.c_str());
  }
  *name = names[j].c_str();
  return FASTMLP_OK;
}

fastmlp_status fastmlp_predict_text(fastmlp_workspace* ws, const char* const* cells, size_t n_rows, float* outputs) {
  return predict_text(__func__, Want::Outputs, ws, cells, n_rows, outputs);
}
fastmlp_status fastmlp_predict_text_f64(fastmlp_workspace* ws, const char* const* cells, size_t n_rows,
                                        double* outputs) {
  return predict_text(__func__, Want::Outputs, ws, cells, n_rows, outputs);
}
fastmlp_status fastmlp_predict_proba_text(fastmlp_workspace* ws, const char* const* cells, size_t n_rows,
                                          float* proba) {
  return predict_text(__func__, Want::Proba, ws, cells, n_rows, proba);
}
fastmlp_status fastmlp_predict_proba_text_f64(fastmlp_workspace* ws, const char* const* cells, size_t n_rows,
                                              double* proba) {
  return predict_text(__func__, Want::Proba, ws, cells, n_rows, proba);
}
fastmlp_status fastmlp_predict_class_text(fastmlp_workspace* ws, const char* const* cells, size_t n_rows,
                                          int32_t* classes) {
  return predict_text(__func__, Want::Class, ws, cells, n_rows, classes);
}

}  // extern "C"
