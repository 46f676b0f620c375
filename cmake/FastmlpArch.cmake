# Picks the SIMD level to compile the core for.
# FASTMLP_ARCH=auto (default): the highest of x86-64-v4 / v3 / v2 that both the
# compiler accepts and the building CPU runs (Eigen without -m flags is SSE2 only,
# 2.5-4x slower; gcc 12's -march=native maps Zen5 to znver3 and drops AVX-512).
# Any other value is passed as -march=<value>; "none" adds no flag.
set(FASTMLP_ARCH "auto" CACHE STRING "SIMD level: auto, none, or a -march value such as x86-64-v3")

function(fastmlp_detect_arch out)
  if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
    set(${out} "none" PARENT_SCOPE)
    return()
  endif()
  set(src "${CMAKE_CURRENT_BINARY_DIR}/fastmlp_cpu_level.c")
  file(WRITE "${src}" [=[
#include <stdio.h>
int main(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) puts("x86-64-v4");
  else if (__builtin_cpu_supports("x86-64-v3")) puts("x86-64-v3");
  else if (__builtin_cpu_supports("x86-64-v2")) puts("x86-64-v2");
  else puts("none");
  return 0;
}
]=])
  try_run(run_result compile_result
          SOURCES "${src}"
          RUN_OUTPUT_VARIABLE level)
  string(STRIP "${level}" level)
  if(NOT compile_result OR NOT run_result EQUAL 0 OR level STREQUAL "")
    set(level "none")
  endif()
  include(CheckCXXCompilerFlag)
  while(NOT level STREQUAL "none")
    string(MAKE_C_IDENTIFIER "FASTMLP_HAS_${level}" var)
    check_cxx_compiler_flag("-march=${level}" ${var})
    if(${var})
      break()
    endif()
    if(level STREQUAL "x86-64-v4")
      set(level "x86-64-v3")
    elseif(level STREQUAL "x86-64-v3")
      set(level "x86-64-v2")
    else()
      set(level "none")
    endif()
  endwhile()
  set(${out} "${level}" PARENT_SCOPE)
endfunction()

if(FASTMLP_ARCH STREQUAL "auto")
  fastmlp_detect_arch(FASTMLP_ARCH_RESOLVED)
else()
  set(FASTMLP_ARCH_RESOLVED "${FASTMLP_ARCH}")
endif()
message(STATUS "fastmlp: SIMD level ${FASTMLP_ARCH_RESOLVED}")
