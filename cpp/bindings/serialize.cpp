// Model files for fastmlp.io: the C++ reader and writer (fastmlp/serialize.hpp) are the only ones.
#include <pybind11/stl.h>

#include <string>
#include <system_error>
#include <utility>

#include "arrays.hpp"
#include "fastmlp/raw_rows.hpp"

namespace fastmlp::bindings {

namespace {

// Runs f without the GIL; a std::system_error becomes OSError with its errno, which picks the
// subclass (a missing file: FileNotFoundError). The exception object is made here: set lazily as
// OSError, it turned into the subclass inside error_already_set, which pybind11 (Python < 3.12)
// reports as a RuntimeError "MISMATCH ... OSError REPLACED BY FileNotFoundError".
template <class F>
auto os_errors(F&& f) -> decltype(f()) {
  try {
    py::gil_scoped_release nogil;
    return f();
  } catch (const std::system_error& e) {
    const py::object error = py::reinterpret_borrow<py::object>(PyExc_OSError)(e.code().value(), e.what());
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())), error.ptr());
    throw py::error_already_set();
  }
}

// The bytes of `net` (Network32 or Network64), built under its lock without the GIL.
std::string file_bytes(const py::object& net, const Metadata& metadata) {
  auto build = [&](const auto& n) {
    py::gil_scoped_release nogil;
    std::lock_guard<std::recursive_mutex> lock(n.busy());
    return model_file_bytes(n, metadata);
  };
  if (py::isinstance<Network<float>>(net)) return build(net.cast<const Network<float>&>());
  if (py::isinstance<Network<double>>(net)) return build(net.cast<const Network<double>&>());
  throw py::type_error("net must be a Network32 or Network64, got " + std::string(py::str(py::type::of(net))));
}

py::tuple to_python(ModelFile&& file) {
  py::object net = std::visit([](auto&& n) { return py::cast(std::move(n)); }, std::move(file.network));
  return py::make_tuple(net, py::cast(std::move(file.metadata)));
}

}  // namespace

void define_serialize(py::module_& m) {
  m.attr("FORMAT_VERSION") = kFormatVersion;
  m.attr("MAX_HEADER_BYTES") = kMaxHeaderBytes;
  m.attr("MAX_BLOCK_NESTING") = kMaxBlockNesting;
  m.attr("VERSION") = FASTMLP_VERSION;
  {
    py::list cells;  // fastmlp/raw_rows.hpp: the text cells read as missing (ONNX's LabelEncoder too)
    for (const std::string_view c : missing_cells()) cells.append(std::string(c));
    m.attr("MISSING_CELLS") = py::tuple(cells);
  }
  m.def(
      "save_model",
      [](const py::object& net, const std::string& path, const Metadata& metadata) {
        const std::string bytes = file_bytes(net, metadata);
        os_errors([&] { write_file_atomic(path, bytes); });
      },
      py::arg("net"), py::arg("path"), py::arg("metadata"),
      "Writes the network and the extra metadata entries to `path` atomically.");
  m.def(
      "model_bytes",
      [](const py::object& net, const Metadata& metadata) { return py::bytes(file_bytes(net, metadata)); },
      py::arg("net"), py::arg("metadata"), "The bytes save_model writes.");
  m.def(
      "load_model", [](const std::string& path) { return to_python(os_errors([&] { return read_model_file(path); })); },
      py::arg("path"), "(network in the file's dtype, metadata dict) of a model file.");
  m.def(
      "model_from_bytes",
      [](const py::buffer& data) {
        const py::buffer_info info = data.request();
        if (info.ndim != 1 || info.itemsize != 1 || (info.ndim == 1 && info.strides[0] != 1))
          throw py::type_error("data must be contiguous bytes");
        const auto* p = static_cast<const unsigned char*>(info.ptr);
        const auto size = std::size_t(info.size);
        return to_python(os_errors([&] { return read_model_bytes(p, size); }));
      },
      py::arg("data"), "(network in the stored dtype, metadata dict) of a model file's bytes.");
  m.def(
      "write_file_atomic",
      [](const std::string& path, const py::bytes& data) {
        const std::string bytes = data;
        os_errors([&] { write_file_atomic(path, bytes); });
      },
      py::arg("path"), py::arg("data"),
      "Replaces `path` by `data`: a temporary file, fsync, rename (the old file survives any failure).");
}

}  // namespace fastmlp::bindings
