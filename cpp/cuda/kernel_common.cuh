// What every kernel file of the CUDA backend shares (kernels.cu, layer_kernels.cu): the block shape,
// warp and block reductions, grid sizes, the grid-stride loop. Private to those .cu files: an unnamed
// namespace, so each has its own copy.
#pragma once

#include "fastmlp/elementwise.hpp"
#include "kernels.cuh"

namespace fastmlp::cuda::detail {

namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerBlock = kThreads / 32;

// ---- math ----
// exp, log, sqrt: CUDA's overloads, float ones for float (expf, ...). max, min, |.|: elementwise.hpp's.
template <class T>
__device__ __forceinline__ T d_max(T a, T b) {
  return elementwise::max_of(a, b);
}
template <class T>
__device__ __forceinline__ T d_min(T a, T b) {
  return elementwise::min_of(a, b);
}

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
template <class T>
__device__ __forceinline__ T warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) v = d_max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Sum over a block of kThreads threads; the result is valid in thread 0.
template <class T>
__device__ T block_sum(T v) {
  __shared__ double raw[32];
  T* buf = reinterpret_cast<T*>(raw);
  v = warp_sum(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) buf[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x >> 5) ? buf[lane] : T(0);
    v = warp_sum(v);
  }
  return v;
}

int blocks_for(i64 n) {
  const i64 b = (n + kThreads - 1) / kThreads;
  return int(b < 1 ? 1 : (b > 65536 ? 65536 : b));
}
int row_blocks(i64 m) { return int((m + kRowsPerBlock - 1) / kRowsPerBlock); }

#define FASTMLP_GRID_STRIDE(i, n) \
  for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += i64(blockDim.x) * gridDim.x)

}  // namespace

}  // namespace fastmlp::cuda::detail
