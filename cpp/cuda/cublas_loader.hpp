// cuBLAS, loaded at first use with dlopen("libcublas.so.13"), then "libcublas.so"
// (the environment variable FASTMLP_CUBLAS may name a file to try first), so that
// no cuBLAS header or library is needed to build fastmlp and a machine without
// cuBLAS can still import it. The few entry points used are declared here, with
// cuBLAS's own C signatures (cublas_api.h, CUDA 12/13):
//   cublasCreate_v2, cublasDestroy_v2, cublasSetStream_v2, cublasSgemm_v2, cublasDgemm_v2.
// GEMMs are column-major; backend.cu turns the row-major products into them
// (C = A B row-major is C^T = B^T A^T column-major).
#pragma once

#include <string>

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace fastmlp::cuda::detail {

struct cublasContext;
using cublasHandle_t = cublasContext*;
using cublasStatus_t = int;  // CUBLAS_STATUS_SUCCESS = 0
enum cublasOperation_t : int { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };

struct Cublas {
  cublasStatus_t (*create)(cublasHandle_t*) = nullptr;
  cublasStatus_t (*destroy)(cublasHandle_t) = nullptr;
  cublasStatus_t (*set_stream)(cublasHandle_t, CUstream_st*) = nullptr;
  cublasStatus_t (*sgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const float*,
                          const float*, int, const float*, int, const float*, float*, int) = nullptr;
  cublasStatus_t (*dgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const double*,
                          const double*, int, const double*, int, const double*, double*, int) = nullptr;
  std::string path;  // the library that was loaded
};

// Loads cuBLAS once (thread-safe); nullptr with *why filled when it cannot.
const Cublas* load_cublas(std::string* why);
// Throws std::runtime_error naming what failed.
const Cublas& cublas();

}  // namespace fastmlp::cuda::detail
