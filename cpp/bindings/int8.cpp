// The int8 arithmetic (fastmlp/gemm_int8.hpp) for Python: model.quantize("int8") quantizes the
// weights with quantize_weights_int8; the tests compare the other three with a NumPy reference
// (the int32 sums bit for bit). The layers themselves run in the network (layers/dense_int8.cpp).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "fastmlp/gemm_int8.hpp"

namespace fastmlp::bindings {

namespace py = pybind11;

namespace {

template <class T>
py::array_t<T, py::array::c_style> matrix_arg(const py::array& a, const char* name) {
  if (!py::isinstance<py::array_t<T>>(a) || a.dtype().not_equal(py::dtype::of<T>()) || a.ndim() != 2)
    throw py::type_error(std::string(name) + " must be a 2-D array of dtype " +
                         std::string(py::str(py::dtype::of<T>())));
  return py::array_t<T, py::array::c_style>::ensure(a);
}

// Wq as numbers (float32) and s: the layer's tensors, packed as the layer packs them.
Int8Weights packed(const py::array& Wq, const py::array& s) {
  const auto w = matrix_arg<std::int8_t>(Wq, "Wq");
  const auto sc = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(s);
  if (!sc || sc.ndim() != 1 || sc.shape(0) != w.shape(1)) throw py::value_error("s must have Wq.shape[1] entries");
  std::vector<float> wf(std::size_t(w.size()));
  for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = float(w.data()[i]);
  Int8Weights out;
  pack_int8_weights(wf.data(), sc.data(), w.shape(0), w.shape(1), out);
  return out;
}

}  // namespace

void define_int8(py::module_& m) {
  m.attr("INT8_MAX_INPUTS") = kInt8MaxInputs;
  m.def(
      "quantize_weights_int8",
      [](const py::array& W) {
        const auto w = matrix_arg<float>(W, "W");
        const Index d = w.shape(0), k = w.shape(1);
        py::array_t<std::int8_t> Wq({d, k});
        py::array_t<float> s(k);
        quantize_weights_int8(w.data(), d, k, Wq.mutable_data(), s.mutable_data());
        return py::make_tuple(Wq, s);
      },
      py::arg("W"),
      "(Wq, s): W (d x k, float32) quantized per column: s_j = max|W_:j| / 63, Wq = rint(W / s) in [-63, 63].");
  m.def(
      "int8_quantize_rows",
      [](const py::array& X) {
        const auto x = matrix_arg<float>(X, "X");
        const Index rows = x.shape(0), d = x.shape(1), d4 = (d + 3) / 4 * 4;
        py::array_t<std::uint8_t> Q({rows, d4});
        py::array_t<float> s(rows);
        py::array_t<std::int32_t> zp(rows);
        quantize_rows_int8(x.data(), rows, d, d, Q.mutable_data(), d4, s.mutable_data(), zp.mutable_data());
        return py::make_tuple(Q, s, zp);
      },
      py::arg("X"), "(Q, s, zp): the rows of X (float32) as u8 with a zero point (Q padded to 4 columns).");
  m.def(
      "int8_matmul_s32",
      [](const py::array& Q, const py::array& Wq) {
        const auto q = matrix_arg<std::uint8_t>(Q, "Q");
        const auto w = matrix_arg<std::int8_t>(Wq, "Wq");
        const Index rows = q.shape(0), d = w.shape(0), k = w.shape(1);
        if (q.shape(1) != (d + 3) / 4 * 4) throw py::value_error("Q must have Wq.shape[0] rounded up to 4 columns");
        py::array_t<float> ones(k);
        std::fill(ones.mutable_data(), ones.mutable_data() + k, 1.0f);
        const Int8Weights W = packed(Wq, ones);
        py::array_t<std::int32_t> C({rows, k});
        int8_gemm_s32(q.data(), rows, q.shape(1), W, C.mutable_data(), k);
        return C;
      },
      py::arg("Q"), py::arg("Wq"), "C = Q Wq in int32, by the packed kernel in use.");
  m.def(
      "int8_dense",
      [](const py::array& X, const py::array& Wq, const py::array& s, const py::array& b) {
        const auto x = matrix_arg<float>(X, "X");
        const Int8Weights W = packed(Wq, s);
        const auto bias = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(b);
        if (x.shape(1) != W.d) throw py::value_error("X must have Wq.shape[0] columns");
        if (!bias || bias.ndim() != 1 || bias.shape(0) != W.k) throw py::value_error("b must have Wq.shape[1] entries");
        py::array_t<float> Z({x.shape(0), W.k});
        int8_dense(x.data(), x.shape(0), W.d, W, bias.data(), Z.mutable_data(), W.k);
        return Z;
      },
      py::arg("X"), py::arg("Wq"), py::arg("s"), py::arg("b"), "z = dequantize(q(X) Wq) + b, as a quantized Dense.");
  m.def("int8_isa", &int8_isa, "The int8 kernel in use: avx512vnni, avxvnni, avx2 or portable.");
}

}  // namespace fastmlp::bindings
