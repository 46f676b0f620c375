// The compiled module fastmlp._core: thin bindings, one file per area.
#include <pybind11/pybind11.h>

#include <Eigen/Core>

#include "arrays.hpp"
#include "fastmlp/cuda.hpp"
#include "fastmlp/gemm.hpp"
#include "fastmlp/threads.hpp"

namespace fastmlp::bindings {
void define_networks(py::module_& m);
void define_optimizers(py::module_& m);
void define_training(py::module_& m);
void define_cuda(py::module_& m);
void define_serialize(py::module_& m);
}

#ifndef FASTMLP_MODULE
#define FASTMLP_MODULE _core
#endif

PYBIND11_MODULE(FASTMLP_MODULE, m) {
  namespace py = pybind11;
  m.doc() = "fastmlp's C++ core (Eigen).";
  fastmlp::bindings::define_networks(m);
  fastmlp::bindings::define_optimizers(m);
  fastmlp::bindings::define_training(m);
  fastmlp::bindings::define_cuda(m);
  fastmlp::bindings::define_serialize(m);
  m.def("build_info", [] {
    py::dict d;
    d["simd"] = Eigen::SimdInstructionSetsInUse();
    d["eigen"] = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                 std::to_string(EIGEN_MINOR_VERSION);
#ifdef FASTMLP_ARCH
    d["arch"] = FASTMLP_ARCH;
#else
    d["arch"] = "default";
#endif
    d["cuda"] = fastmlp::cuda::built_with_cuda();  // FASTMLP_CUDA=ON; fm.cuda_available() says if it runs here
    d["gemm"] = fastmlp::gemm_isa();
#ifdef _OPENMP
    d["openmp"] = true;
#else
    d["openmp"] = false;
#endif
    d["num_threads"] = fastmlp::get_num_threads();
    return d;
  });
  m.def("set_num_threads", &fastmlp::set_num_threads, py::arg("n"),
        "Threads the matrix products may use (products under ~4 MFLOP always run on one).");
  m.def("get_num_threads", &fastmlp::get_num_threads);
}
