// The compiled module fastmlp._core: thin bindings, one file per area.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <Eigen/Core>

#include "arrays.hpp"
#include "fastmlp/cpu.hpp"
#include "fastmlp/cuda.hpp"
#include "fastmlp/gemm.hpp"
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
  // The SIMD level (fastmlp/cpu.hpp): picked now, so that a bad FASTMLP_ARCH fails the import.
  try {
    m.attr("LEVEL") = fastmlp::simd_level();
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
    d["int8"] = fastmlp::int8_isa();  // model.quantize("int8")'s kernel
    d["threads"] = "std::thread";     // the products' thread pool (threads.cpp)
    d["num_threads"] = fastmlp::get_num_threads();
    return d;
  });
  m.def("set_num_threads", &fastmlp::set_num_threads, py::arg("n"),
        "Threads the matrix products may use (products under ~4 MFLOP always run on one).");
  m.def("max_num_threads", &fastmlp::max_num_threads, "The most set_num_threads takes.");
  m.def("get_num_threads", &fastmlp::get_num_threads);
}
