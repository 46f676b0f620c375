// The one seeded generator a model uses (initialisation, shuffling). Its
// numbers depend only on the seed, not on the standard library, so the same
// seed gives the same weights on every platform.
#pragma once

#include <cstdint>
#include <random>

namespace fastmlp {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  // Uniform in [0, 1) from the top 53 bits.
  double uniform() { return double(engine_() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) { return std::uint64_t(uniform() * double(n)); }

  template <class I>
  void shuffle(I* first, std::uint64_t n) {  // Fisher-Yates
    for (std::uint64_t i = n; i > 1; --i) std::swap(first[i - 1], first[below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace fastmlp
