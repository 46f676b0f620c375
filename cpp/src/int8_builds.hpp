// What each build of gemm_int8.cpp defines in its namespace (FASTMLP_KERNEL_NS): int8.cpp declares the
// builds CMakeLists.txt made and picks one; tests/emulated/int8.cpp declares the library's own beside the
// emulated ones.
#pragma once

#include <cstdint>

#include "fastmlp/gemm_int8.hpp"

// clang-format off
#define FASTMLP_DECLARE_INT8(ns)                                                                                    \
  namespace ns {                                                                                                    \
  bool quantize_rows(const float*, Index, Index, Index, std::uint8_t*, Index, float*, std::int32_t*);               \
  void gemm_s32(const std::uint8_t*, Index, Index, const Int8Weights&, std::int32_t*, Index);                       \
  bool dense_rows(const float*, Index, Index, const Int8Weights&, const float*, float*, Index, bool, Int8Scratch&); \
  bool chain_rows(const float*, Index, Index, const Int8Layer*, Index, float*, Index, Int8Scratch&);                \
  const char* isa();                                                                                                \
  }
// clang-format on
