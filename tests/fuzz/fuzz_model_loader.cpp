// libFuzzer harness for the C++ model loader (fastmlp::read_model_bytes, fastmlp/serialize.hpp).
// The contract checked: any input either loads (and the network then runs a forward pass) or
// throws std::invalid_argument; anything else (another exception, a crash, an ASan/UBSan report,
// an allocation beyond -malloc_limit_mb) is a finding.
//
// Built by the sanitizer job (.ci/sanitize: clang, -fsanitize=fuzzer,address,undefined), which
// replays tests/fuzz/corpus/ and fuzzes for a minute. Longer, by hand (README in this folder):
//   build/sanitize/tests/fuzz/fuzz_model_loader -max_total_time=3600 -malloc_limit_mb=256 \
//       -timeout=10 /tmp/fuzz-corpus tests/fuzz/corpus
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <variant>

#include "fastmlp/serialize.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    auto file = fastmlp::read_model_bytes(data, size);
    std::visit(
        [](auto& net) {
          using T = std::decay_t<decltype(*net.params())>;
          const fastmlp::Matrix<T> X = fastmlp::Matrix<T>::Ones(2, net.n_inputs());
          (void)net.forward(X);
        },
        file.network);
  } catch (const std::invalid_argument&) {
    // a refused file: the expected outcome for almost every input
  }
  return 0;
}
