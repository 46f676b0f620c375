// The compiled module fastmlp._core: thin bindings, one file per area.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <Eigen/Core>

#include "arrays.hpp"
#include "fastmlp/cpu.hpp"
#include "fastmlp/cuda.hpp"
#include "fastmlp/gemm.hpp"
#include "fastmlp/gemm_bf16.hpp"
#include "fastmlp/gemm_int8.hpp"
#include "fastmlp/threads.hpp"

namespace fastmlp::bindings {
void define_networks(py::module_& m);
void define_optimizers(py::module_& m);
void define_training(py::module_& m);
void define_cuda(py::module_& m);
void define_serialize(py::module_& m);
void define_int8(py::module_& m);
}  // namespace fastmlp::bindings

PYBIND11_MODULE(_core, m) {
  namespace py = pybind11;
  m.doc() = "fastmlp's C++ core (Eigen).";
  // The SIMD level (fastmlp/cpu.hpp), the bf16 and the int8 kernels (gemm_bf16.hpp, gemm_int8.hpp): picked
  // now, so that a bad FASTMLP_ARCH, FASTMLP_BF16 or FASTMLP_INT8 fails the import.
  try {
    m.attr("LEVEL") = fastmlp::simd_level();
    fastmlp::bf16_kernel();
    fastmlp::int8_isa();
  } catch (const std::invalid_argument& e) {
    throw py::import_error(e.what());
  }
  fastmlp::bindings::define_networks(m);
  fastmlp::bindings::define_optimizers(m);
  fastmlp::bindings::define_training(m);
  fastmlp::bindings::define_cuda(m);
  fastmlp::bindings::define_serialize(m);
  fastmlp::bindings::define_int8(m);
  m.def("build_info", [] {
    py::dict d;
    d["simd"] = Eigen::SimdInstructionSetsInUse();
    d["eigen"] = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                 std::to_string(EIGEN_MINOR_VERSION);
    d["level"] = fastmlp::simd_level();  // the kernels picked for this CPU (or by FASTMLP_ARCH)
    d["levels_built"] = fastmlp::simd_levels_built();
    d["cuda"] = fastmlp::cuda::built_with_cuda();  // FASTMLP_CUDA=ON; fm.cuda_available() says if it runs here
    d["gemm"] = fastmlp::gemm_isa();
    d["bf16"] = fastmlp::bf16_kernel();          // dtype="mixed_bfloat16"'s products: "avx512_bf16" or "emulated (...)"
    d["bf16_why"] = fastmlp::bf16_kernel_why();  // why the emulated path runs ("" for the native kernel)
    d["cpu_avx512_bf16"] = fastmlp::cpu_has_avx512_bf16();
    d["int8"] = fastmlp::int8_isa();  // model.quantize("int8")'s kernel
    d["threads"] = "std::thread";     // the products' thread pool (threads.cpp)
    d["num_threads"] = fastmlp::get_num_threads();
    return d;
  });
  m.def(
      "bf16_round",
      [](const py::array_t<float, py::array::c_style | py::array::forcecast>& x) {
        py::array_t<float> y(x.request().shape);
        fastmlp::round_to_bf16(x.data(), y.mutable_data(), fastmlp::Index(x.size()));
        return y;
      },
      py::arg("x"), "x rounded to the nearest bfloat16 (ties to even), as float32: the mixed products' operands.");
  m.def(
      "gemm_bf16",
      [](const py::array_t<float, py::array::c_style | py::array::forcecast>& A,
         const py::array_t<float, py::array::c_style | py::array::forcecast>& B, bool trans_a, bool trans_b,
         bool emulated) {
        if (A.ndim() != 2 || B.ndim() != 2) throw py::value_error("gemm_bf16: A and B must be 2-D");
        const fastmlp::Index m = A.shape(trans_a ? 1 : 0), k = A.shape(trans_a ? 0 : 1);
        const fastmlp::Index n = B.shape(trans_b ? 0 : 1);
        if (B.shape(trans_b ? 1 : 0) != k) throw py::value_error("gemm_bf16: op(A) and op(B) do not chain");
        py::array_t<float> C({m, n});
        auto run = emulated ? &fastmlp::gemm_bf16_emulated : &fastmlp::gemm_bf16;
        const float *a = A.data(), *b = B.data();
        float* c = C.mutable_data();
        const fastmlp::Index lda = A.shape(1), ldb = B.shape(1);
        {
          py::gil_scoped_release release;
          run(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
        }
        return C;
      },
      py::arg("A"), py::arg("B"), py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("emulated") = false,
      "op(A) op(B) with bf16 operands and float32 sums (bf16_kernel's, or the emulated path): for tests.");
  m.def(
      "gemm_bf16_kept_pair",
      [](const py::array_t<float, py::array::c_style | py::array::forcecast>& X,
         const py::array_t<float, py::array::c_style | py::array::forcecast>& W,
         const py::array_t<float, py::array::c_style | py::array::forcecast>& D) {
        if (X.ndim() != 2 || W.ndim() != 2 || D.ndim() != 2) throw py::value_error("gemm_bf16_kept_pair: 2-D arrays");
        const fastmlp::Index m = X.shape(0), d = X.shape(1), k = W.shape(1), n = D.shape(1);
        if (W.shape(0) != d || D.shape(0) != m)
          throw py::value_error("gemm_bf16_kept_pair: X W and X^T D do not chain");
        py::array_t<float> Z({m, k}), C({d, n});
        fastmlp::Bf16Input kept;
        {
          py::gil_scoped_release release;
          fastmlp::gemm_bf16_keep(m, k, d, 1.0f, X.data(), d, W.data(), k, 0.0f, Z.mutable_data(), k, kept);
          fastmlp::gemm_bf16_kept(d, n, m, 1.0f, X.data(), d, D.data(), n, 0.0f, C.mutable_data(), n, kept);
        }
        return py::make_tuple(Z, C, kept.x != nullptr);
      },
      py::arg("X"), py::arg("W"), py::arg("D"),
      "(X W, X^T D, kept) as a training step runs them (gemm_bf16.hpp, Bf16Input): X converted once, its "
      "bf16 words kept from the first product to the second where `kept`: for tests.");
  m.def(
      "mappable",
      [](const py::handle& X, const py::dtype& dtype) {
        if (dtype.equal(py::dtype::of<float>())) return fastmlp::bindings::maps_as_is<float>(X);
        if (dtype.equal(py::dtype::of<double>())) return fastmlp::bindings::maps_as_is<double>(X);
        throw py::type_error("dtype must be float32 or float64, got " + std::string(py::str(dtype)));
      },
      py::arg("X"), py::arg("dtype"),
      "Whether X is an array the core maps as it is: exactly a numpy.ndarray of `dtype`, C-contiguous "
      "and aligned (fastmlp.data.mappable).");
  m.def("set_num_threads", &fastmlp::set_num_threads, py::arg("n"),
        "Threads the matrix products may use (products under ~4 MFLOP always run on one).");
  m.def("max_num_threads", &fastmlp::max_num_threads, "The most set_num_threads takes.");
  m.def("get_num_threads", &fastmlp::get_num_threads);
}
