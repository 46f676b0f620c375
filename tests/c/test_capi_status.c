/* fastmlp_status_name on every value a C caller may pass: the status codes by name, any other int
 * "unknown status". A C enum is an int, so 99 or -1 reach the library; reading such a value as the C++
 * enum was undefined behaviour (UBSan, .ci/sanitize: "load of value 99, which is not a valid value for
 * type 'fastmlp_status'"). */
#include <stdio.h>
#include <string.h>

#include "fastmlp/fastmlp.h"

static int failures = 0;

static void expect(int code, const char* name) {
  const char* got = fastmlp_status_name((fastmlp_status)code);
  if (!got || strcmp(got, name) != 0) {
    fprintf(stderr, "fastmlp_status_name(%d) = %s, expected %s\n", code, got ? got : "NULL", name);
    ++failures;
  }
}

int main(void) {
  expect(0, "FASTMLP_OK");
  expect(2, "FASTMLP_ERR_INVALID_MODEL");
  expect(7, "FASTMLP_ERR_INTERNAL");
  expect(8, "unknown status");
  expect(99, "unknown status");
  expect(-1, "unknown status");
  expect(1 << 20, "unknown status");
  printf("test_capi_status: %s\n", failures ? "FAILED" : "all checks passed");
  return failures != 0;
}
