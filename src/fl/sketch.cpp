#include "fl/sketch.hpp"

#include <cmath>
#include <random>

namespace flotilla::fl {

std::vector<float> sketch(const std::vector<float>& weights, std::size_t dim, std::uint64_t seed) {
  // Random +-1 entries (Achlioptas 2003) keep distances like Gaussian ones but cost one add
  // per weight and row and one random word per 64 weights; scaled to keep the squared norm.
  std::vector<float> out(dim, 0.0f);
  auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dim)));
  for (std::size_t r = 0; r < dim; ++r) {
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + r);
    double acc = 0;
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (i % 64 == 0)
        bits = rng();
      acc += (bits >> (i % 64)) & 1 ? weights[i] : -weights[i];
    }
    out[r] = static_cast<float>(acc) * scale;
  }
  return out;
}

} // namespace flotilla::fl
