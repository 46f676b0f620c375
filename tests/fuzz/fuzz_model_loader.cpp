// libFuzzer harness for the C++ model loader (fastmlp::read_model_bytes, fastmlp/serialize.hpp).
// The contract checked: any input either loads (and the network then runs a forward pass, and a
// row of text cells through its raw columns, fastmlp/raw_rows.hpp) or throws std::invalid_argument; anything else
// (another exception, a crash, an ASan/UBSan report, an allocation beyond -malloc_limit_mb) is a finding.
//
// Built by the sanitizer job (.ci/sanitize: clang, -fsanitize=fuzzer,address,undefined), which
// replays tests/fuzz/corpus/ and fuzzes for a minute. Longer, by hand (README in this folder):
//   build/sanitize/tests/fuzz/fuzz_model_loader -max_total_time=3600 -malloc_limit_mb=256 \
//       -timeout=10 /tmp/fuzz-corpus tests/fuzz/corpus
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "fastmlp/raw_rows.hpp"
#include "fastmlp/serialize.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    auto file = fastmlp::read_model_bytes(data, size);
    std::visit(
        [&](auto& net) {
          using T = std::decay_t<decltype(*net.params())>;
          const fastmlp::Matrix<T> X = fastmlp::Matrix<T>::Ones(2, net.n_inputs());
          (void)net.forward(X);
          // the raw columns (a ColumnEmbedding's vocabulary) and a row of text cells through them
          const auto columns = fastmlp::RawColumns::of(net.configs(), net.n_inputs(), file.feature_names());
          static const std::string_view kCells[] = {"", "1", "x", "True", "1e999", "-0.5", "NA", "01"};
          std::vector<std::string_view> cells;
          for (std::size_t j = 0; j < columns.size() && j < 4096; ++j) cells.push_back(kCells[j % 8]);
          if (cells.size() == columns.size() && columns.can_encode()) {
            fastmlp::Matrix<T> row(1, net.n_inputs());
            columns.encode(cells.data(), cells.size(), 0, row.data());
            (void)net.forward(row);
          }
        },
        file.network);
  } catch (const std::invalid_argument&) {
    // a refused file: the expected outcome for almost every input
  }
  return 0;
}
