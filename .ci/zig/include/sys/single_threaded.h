// glibc 2.32's <sys/single_threaded.h> for the manylinux_2_28 build: libstdc++'s headers include it
// when it exists (zig's copy refuses to be included below 2.32) to skip atomic reference counts in a
// single-threaded process. Here the answer is always "maybe several threads": the atomic path, which
// is what libstdc++ does on glibc < 2.32.
#pragma once
#ifdef __cplusplus
extern "C" {
#endif
static const char __libc_single_threaded = 0;
#ifdef __cplusplus
}
#endif
