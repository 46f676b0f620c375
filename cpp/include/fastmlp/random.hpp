// The one seeded generator a model uses (initialisation, shuffling). Its
// numbers depend only on the seed, not on the standard library, so the same
// seed gives the same weights on every platform.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace fastmlp {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  // Uniform in [0, 1) from the top 53 bits.
  double uniform() { return double(engine_() >> 11) * 0x1.0p-53; }
  // Standard normal (Box-Muller; both numbers of a pair are used).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1;
    do u1 = uniform();
    while (u1 <= 0.0);
    const double r = std::sqrt(-2.0 * std::log(u1)), t = 6.283185307179586 * uniform();
    spare_ = r * std::sin(t);
    has_spare_ = true;
    return r * std::cos(t);
  }
  // Skips the next n uniform() draws (data parallelism: the masks of other processes' rows).
  void skip(std::uint64_t n) { engine_.discard(n); }
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) { return std::uint64_t(uniform() * double(n)); }

  template <class I>
  void shuffle(I* first, std::uint64_t n) {  // Fisher-Yates
    for (std::uint64_t i = n; i > 1; --i) std::swap(first[i - 1], first[below(i)]);
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace fastmlp
