# Toolchain for manylinux_2_28 wheels built without Docker (.ci/wheel; docs/building.md).
#
# The compiler is zig's clang (PyPI's ziglang; FASTMLP_ZIG names the binary) aimed at glibc 2.28:
# zig links against stub libraries that carry only the symbol versions glibc 2.28 has, so nothing in
# the module can bind to a newer one (maturin's --zig does the same for Rust). The C++ standard
# library stays libstdc++, NOT zig's libc++:
#   - the wheel also ships libfastmlp.a and headers (fastmlp::fastmlp) for C++ embedders, who compile
#     with their system g++/clang against libstdc++: std::string and std::vector in the interface must
#     be libstdc++'s (a libc++ build would not link with them; tests/test_cpp.py builds against it);
#   - a libc++ linked into the module would put a second C++ runtime (and its exception ABI) in a
#     Python process whose other extensions (PyTorch, ...) use libstdc++.
# So the headers are the system gcc's (found below), and the module links the system's libstdc++.a
# statically, with every symbol but PyInit__core hidden by a version script (module.map): no C++
# runtime symbol leaves it, so it cannot clash with another extension's libstdc++. Statically linked,
# libstdc++ adds no GLIBCXX_* symbol versions (the dynamic one would: gcc 12's headers need 3.4.29,
# manylinux_2_28 allows 3.4.24). The unwinder is the system's libgcc_s.so.1 (GCC_3.0-4.2 symbols,
# in every manylinux policy). What gcc 12's libstdc++ takes from glibc > 2.28 is switched off in its
# configuration header (include/bits/c++config.h, include/sys/single_threaded.h) or, for the two
# symbols inside libstdc++.a, defined in glibc_compat.c, which CMakeLists.txt adds to the module.
# The x86-64 level kernels (-march=x86-64-v3/v4 on gemm.cpp) are clang flags as well as gcc's.
set(CMAKE_C_COMPILER "${CMAKE_CURRENT_LIST_DIR}/zig-cc")
set(CMAKE_CXX_COMPILER "${CMAKE_CURRENT_LIST_DIR}/zig-c++")

if(DEFINED ENV{FASTMLP_ZIG})
  set(fastmlp_zig "$ENV{FASTMLP_ZIG}")
else()
  find_program(fastmlp_zig zig)
endif()
if(NOT fastmlp_zig OR NOT EXISTS "${fastmlp_zig}")
  message(FATAL_ERROR "manylinux_2_28.cmake: no zig. `pip install ziglang` and set FASTMLP_ZIG to its binary: "
                      "python -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), \"zig\"))'")
endif()

# The system gcc's libstdc++: its include directories (in gcc's own search order), archive and libgcc_s.
find_program(fastmlp_host_gxx NAMES g++ c++ REQUIRED)
execute_process(COMMAND "${fastmlp_host_gxx}" -xc++ -E -v /dev/null OUTPUT_QUIET ERROR_VARIABLE gxx_search)
string(REGEX MATCH "search starts here:\n(.*)End of search list" gxx_search "${gxx_search}")
string(REGEX MATCHALL "[^ \n]+/c\\+\\+/[^ \n]+" gxx_cxx_dirs "${CMAKE_MATCH_1}")
execute_process(COMMAND "${fastmlp_host_gxx}" -print-file-name=libstdc++.a OUTPUT_VARIABLE gxx_libstdcxx
                OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND "${fastmlp_host_gxx}" -print-file-name=libgcc_s.so.1 OUTPUT_VARIABLE gxx_libgcc_s
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT gxx_cxx_dirs OR NOT IS_ABSOLUTE "${gxx_libstdcxx}" OR NOT IS_ABSOLUTE "${gxx_libgcc_s}")
  message(FATAL_ERROR "manylinux_2_28.cmake: could not find libstdc++'s headers and archive through ${fastmlp_host_gxx}")
endif()

# -nostdinc++ / -nostdlib++: not zig's libc++. The shims (include/) come before the real headers.
set(fastmlp_cxx_includes "-I${CMAKE_CURRENT_LIST_DIR}/include")
foreach(dir IN LISTS gxx_cxx_dirs)
  string(APPEND fastmlp_cxx_includes " -I${dir}")
endforeach()
set(CMAKE_CXX_FLAGS_INIT "-nostdinc++ ${fastmlp_cxx_includes}")
set(CMAKE_CXX_STANDARD_LIBRARIES_INIT "${gxx_libstdcxx} ${gxx_libgcc_s}")
foreach(kind EXE SHARED MODULE)
  set(CMAKE_${kind}_LINKER_FLAGS_INIT "-nostdlib++")
endforeach()
# Executables (CMake's checks, e.g. check_cxx_compiler_flag, link one): the build machine's libgcc_s.so.1
# refers to glibc 2.35's _dl_find_object, which the 2.28 stubs lack; the program runs against the
# machine's own libgcc_s and glibc, so that is no concern (a shared library link does not check it).
string(APPEND CMAKE_EXE_LINKER_FLAGS_INIT " -Wl,--allow-shlib-undefined")
string(APPEND CMAKE_MODULE_LINKER_FLAGS_INIT " -Wl,--version-script=${CMAKE_CURRENT_LIST_DIR}/module.map")
set(FASTMLP_GLIBC_COMPAT "${CMAKE_CURRENT_LIST_DIR}/glibc_compat.c")
