# Cross-compiling the C++ core for 64-bit ARM Linux with Debian's cross toolchain
# (apt-get install g++-aarch64-linux-gnu qemu-user); .ci/aarch64 builds the core and the C API and runs
# their ctest suite with it.
# Eigen and nlohmann/json are headers only: the host's copies (a system install or PyPI's cmeel-eigen and
# nlohmann-json, found as on the host) serve the target too. ctest runs the test programs under qemu-user.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)   # cmake's helpers (python -m cmeel) run on the host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)    # libraries: the target's only
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)    # header-only dependencies: the host's copies too
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
find_program(fastmlp_qemu NAMES qemu-aarch64 qemu-aarch64-static)
if(fastmlp_qemu)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${fastmlp_qemu};-L;/usr/aarch64-linux-gnu")
endif()
