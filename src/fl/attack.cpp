#include "fl/attack.hpp"

#include <cmath>
#include <random>
#include <stdexcept>

namespace flotilla::fl {

const std::vector<std::string>& attack_kinds() {
  static const std::vector<std::string> kinds{"sign_flip", "gaussian", "scale", "label_flip"};
  return kinds;
}

bool experiment::attacker(std::uint32_t id) const {
  for (auto c : attack.clients)
    if (c == id)
      return true;
  return false;
}

std::vector<float> poison(const attack_options& attack, const std::vector<float>& global, std::vector<float> local,
                          std::uint64_t seed) {
  if (attack.kind == "label_flip")
    return local;
  if (global.size() != local.size())
    throw std::invalid_argument("poison: the global model has " + std::to_string(global.size()) +
                                " weights, the update " + std::to_string(local.size()));
  const double s = attack.scale;
  if (attack.kind == "sign_flip" || attack.kind == "scale") {
    double sign = attack.kind == "sign_flip" ? -1.0 : 1.0;
    for (std::size_t i = 0; i < local.size(); ++i) {
      double g = global[i];
      local[i] = static_cast<float>(g + sign * s * (static_cast<double>(local[i]) - g));
    }
    return local;
  }
  if (attack.kind == "gaussian") {
    double norm2 = 0;
    for (std::size_t i = 0; i < local.size(); ++i) {
      double d = static_cast<double>(local[i]) - global[i];
      norm2 += d * d;
    }
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<double> noise(local.size());
    double noise2 = 0;
    for (auto& x : noise) {
      x = normal(rng);
      noise2 += x * x;
    }
    double k = noise2 > 0 ? s * std::sqrt(norm2 / noise2) : 0.0;
    for (std::size_t i = 0; i < local.size(); ++i)
      local[i] = static_cast<float>(global[i] + k * noise[i]);
    return local;
  }
  throw std::invalid_argument("unknown attack kind '" + attack.kind + "'");
}

std::vector<std::int64_t> flipped_labels(const std::vector<std::int64_t>& base, std::size_t classes) {
  std::vector<std::int64_t> out(classes);
  for (std::size_t y = 0; y < classes; ++y) {
    auto seen = base.empty() ? static_cast<std::int64_t>(y) : base[y];
    out[y] = static_cast<std::int64_t>(classes) - 1 - seen;
  }
  return out;
}

} // namespace flotilla::fl
