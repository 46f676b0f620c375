// The loaders on a caller's mistakes (fastmlp/serialize.hpp): model bytes given as a null pointer with
// a size are std::invalid_argument, not a read through the null pointer (it crashed in header_length).
#include <stdexcept>
#include <string>

#include "check.hpp"
#include "fastmlp/serialize.hpp"

using namespace fastmlp;

static void test_null_bytes_with_a_size() {
  CHECK_THROWS(read_model_bytes(nullptr, 10), std::invalid_argument);
  CHECK_THROWS(load_model_bytes<float>(nullptr, 16), std::invalid_argument);
  CHECK_THROWS(load_model_bytes<double>(nullptr, 1), std::invalid_argument);
  try {
    read_model_bytes(nullptr, 10);
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("null pointer") != std::string::npos);
  }
  // no bytes at all: the file is too short (as before)
  CHECK_THROWS(read_model_bytes(nullptr, 0), std::invalid_argument);
}

int main() {
  RUN(test_null_bytes_with_a_size);
  std::printf("%d checks, %d failed\n", check::checks, check::failures);
  return check::failures == 0 ? 0 : 1;
}
