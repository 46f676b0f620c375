// NumPy <-> Eigen without copies. The Python layer converts array-likes to
// C-contiguous arrays of the model's dtype (copying only when it must); here we
// only map them, and refuse anything else rather than copy it silently. That includes arrays
// whose data are not aligned to their element size (a float32 view that starts one byte into a
// buffer): dereferencing them is undefined behaviour, and the GEMM and Eigen would do it (F1).
#pragma once

#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "fastmlp/fastmlp.hpp"

namespace fastmlp::bindings {

namespace py = pybind11;

// C-contiguous and aligned to the element size, or a ValueError naming the argument.
inline void check_layout(const py::array& a, const std::string& name) {
  if (!(a.flags() & py::array::c_style)) throw py::value_error(name + " must be C-contiguous");
  if (reinterpret_cast<std::uintptr_t>(a.data()) % std::uintptr_t(a.itemsize()) != 0)
    throw py::value_error(name + " is not aligned to its " + std::to_string(a.itemsize()) +
                          "-byte elements (a view at an odd byte offset); pass a copy, e.g. numpy.array(" + name + ")");
}

// The one rule for "an array the core maps as it is" (fastmlp.data.mappable asks it through
// _core.mappable): exactly a numpy.ndarray (a subclass such as np.matrix or a masked array is
// converted in Python first), of dtype T, C-contiguous and aligned to its elements. Raw NumPy
// fields, no temporaries: Sequential.forward asks it for every one-sample call.
template <class T>
bool maps_as_is(const py::handle& X) {
  const auto& api = py::detail::npy_api::get();
  if (Py_TYPE(X.ptr()) != api.PyArray_Type_) return false;
  const auto* a = py::detail::array_proxy(X.ptr());
  constexpr int layout = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ | py::detail::npy_api::NPY_ARRAY_ALIGNED_;
  static PyObject* const dtype = py::dtype::of<T>().release().ptr();  // NumPy's own, never freed
  return (a->flags & layout) == layout && (a->descr == dtype || api.PyArray_EquivTypes_(a->descr, dtype));
}

// X as an array the core maps, when X is exactly a numpy.ndarray of real numbers (floats, integers
// or booleans): X itself when it maps as it is, else NumPy's cast to a C-contiguous aligned array of
// T (np.ascontiguousarray(X, dtype), as the Python layer's as_c_array makes it). A null object for
// anything else (lists, DataFrames, subclasses, complex or object arrays): Python converts or refuses
// those. Shape and values are the core's to check.
template <class T>
py::object as_core_array(const py::handle& X) {
  if (maps_as_is<T>(X)) return py::reinterpret_borrow<py::object>(X);
  const auto& api = py::detail::npy_api::get();
  if (Py_TYPE(X.ptr()) != api.PyArray_Type_) return {};
  const char kind = py::reinterpret_borrow<py::array>(X).dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b') return {};
  constexpr int flags = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ | py::detail::npy_api::NPY_ARRAY_ALIGNED_ |
                        py::detail::npy_api::NPY_ARRAY_FORCECAST_;  // forcecast: float64 -> float32 as NumPy's
  PyObject* a = api.PyArray_FromAny_(X.ptr(), py::dtype::of<T>().release().ptr(), 0, 0, flags, nullptr);
  if (!a) throw py::error_already_set();  // (FromAny steals the dtype's reference)
  return py::reinterpret_steal<py::object>(a);
}

// A new C-contiguous rows x cols array of T, made by NumPy directly (py::array_t's constructor
// builds shape and stride vectors on the heap first: a tenth of a microsecond per one-sample call).
template <class T>
py::array_t<T> new_matrix(Index rows, Index cols) {
  const auto& api = py::detail::npy_api::get();
  Py_intptr_t shape[2] = {Py_intptr_t(rows), Py_intptr_t(cols)};
  PyObject* a = api.PyArray_NewFromDescr_(api.PyArray_Type_, py::dtype::of<T>().release().ptr(), 2, shape, nullptr,
                                          nullptr, 0, nullptr);  // steals the dtype's reference
  if (!a) throw py::error_already_set();
  return py::reinterpret_steal<py::array_t<T>>(a);
}

template <class T>
ConstMatrixMap<T> as_matrix(const py::array& a, const char* name) {
  if (!py::isinstance<py::array_t<T>>(a) || a.dtype().not_equal(py::dtype::of<T>()))
    throw py::type_error(std::string(name) + " must have dtype " + std::string(py::str(py::dtype::of<T>())) + ", got " +
                         std::string(py::str(a.dtype())));
  if (a.ndim() != 2)
    throw py::value_error(std::string(name) + " must be 2-D (samples, features), got " + std::to_string(a.ndim()) +
                          "-D with shape " + std::string(py::str(a.attr("shape"))));
  check_layout(a, name);
  return {static_cast<const T*>(a.data()), a.shape(0), a.shape(1)};
}

// X_val mapped for Validation<T>, which assumes n_inputs columns: check them here.
template <class T>
ConstMatrixMap<T> as_validation_inputs(const py::array& a, Index n_inputs) {
  const auto xv = as_matrix<T>(a, "X_val");
  if (xv.cols() != n_inputs)
    throw py::value_error("X_val has " + std::to_string(xv.cols()) + " features but the model expects " +
                          std::to_string(n_inputs));
  return xv;
}

// Per-sample weights: None, or a 1-D C-contiguous array of the model dtype.
template <class T>
const T* as_weights(const py::object& w, Index rows) {
  if (w.is_none()) return nullptr;
  const auto a = w.cast<py::array>();
  if (!a.dtype().equal(py::dtype::of<T>()) || a.ndim() != 1 || !(a.flags() & py::array::c_style))
    throw py::type_error("sample_weight must be a 1-D C-contiguous array of the model's dtype");
  check_layout(a, "sample_weight");
  if (a.shape(0) != rows)
    throw py::value_error("sample_weight has " + std::to_string(a.shape(0)) + " entries but y has " +
                          std::to_string(rows) + " rows");
  return static_cast<const T*>(a.data());
}

// Y as class ids (1-D int32) or dense rows (2-D, model dtype), with optional weights.
template <class T>
Targets<T> as_targets(const py::array& y, Index n_outputs, const py::object& weights) {
  if (y.ndim() == 1 && y.dtype().equal(py::dtype::of<std::int32_t>())) {
    check_layout(y, "y");
    return Targets<T>::from_labels(static_cast<const std::int32_t*>(y.data()), y.shape(0), n_outputs,
                                   as_weights<T>(weights, y.shape(0)));
  }
  const auto m = as_matrix<T>(y, "y");
  return Targets<T>::from_dense(m.data(), m.rows(), m.cols(), as_weights<T>(weights, m.rows()));
}

// A writable NumPy view of rows x cols values at `data`, keeping `owner` alive.
template <class T>
py::array_t<T> view(T* data, Index rows, Index cols, const py::object& owner) {
  return py::array_t<T>({py::ssize_t(rows), py::ssize_t(cols)}, {py::ssize_t(cols * sizeof(T)), py::ssize_t(sizeof(T))},
                        data, owner);
}
template <class T>
py::array_t<T> view(T* data, Index n, const py::object& owner) {
  return py::array_t<T>({py::ssize_t(n)}, {py::ssize_t(sizeof(T))}, data, owner);
}

}  // namespace fastmlp::bindings
