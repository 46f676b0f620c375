// Whether the CUDA engine is here (fastmlp/cuda.hpp). The engine itself is
// made by cuda_engine(net) (training.cpp), next to cpu_engine(net).
#include "fastmlp/cuda.hpp"
#include "arrays.hpp"

namespace fastmlp::bindings {

void define_cuda(py::module_& m) {
  m.def("cuda_built", &cuda::built_with_cuda, "Whether this build has the CUDA backend (FASTMLP_CUDA=ON).");
  m.def("cuda_available", &cuda::available, "Whether device='cuda' works here: CUDA build, driver, device, cuBLAS.");
  m.def("cuda_unavailable_reason", &cuda::unavailable_reason, "Why cuda_available() is False ('' when True).");
  m.def("cuda_device_name", &cuda::device_name);
}

}  // namespace fastmlp::bindings
