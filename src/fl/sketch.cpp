#include "fl/sketch.hpp"

#include <cmath>

namespace flotilla::fl {

namespace {
std::uint64_t splitmix(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
} // namespace

std::vector<float> sketch(const std::vector<float>& weights, std::size_t dim, std::uint64_t seed) {
  // CountSketch (Charikar et al. 2002; the sparse JL transform of Kane & Nelson): weight i is
  // added, with a hashed sign, to one hashed coordinate. Inner products and distances are kept
  // in expectation, at O(P) per client instead of O(P * dim) for a dense projection.
  std::vector<double> acc(dim, 0.0);
  auto salt = splitmix(seed ^ 0x5ce7c4u);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    auto h = splitmix(salt + i);
    auto v = static_cast<double>(weights[i]);
    acc[(h >> 1) % dim] += (h & 1) ? v : -v;
  }
  return std::vector<float>(acc.begin(), acc.end());
}

} // namespace flotilla::fl
