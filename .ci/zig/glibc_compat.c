/* The manylinux_2_28 build links the system's libstdc++.a (gcc 12, compiled on glibc 2.36) into the
 * Python module. Two of its objects refer to glibc symbols newer than 2.28; they are defined here,
 * hidden (the module's version script exports only PyInit__core), as glibc < 2.32 behaves:
 *   __libc_single_threaded (GLIBC_2.32): 0, "maybe several threads", so reference counts stay atomic;
 *   arc4random (GLIBC_2.36): std::random_device's "arc4random" source, from getentropy (GLIBC_2.25). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;

__attribute__((visibility("hidden"))) uint32_t arc4random(void) {
  uint32_t v;
  while (getentropy(&v, sizeof v) != 0)
    if (errno != EINTR) abort(); /* arc4random cannot fail; no kernel entropy is not recoverable */
  return v;
}
