#include "fl/privacy/dp_fedavg.hpp"

#include "fl/privacy/dp_clip.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace flotilla::fl::privacy {

std::vector<float> clipped_update(const std::vector<float>& start, std::vector<float> trained, double clip) {
  bool within = false;
  return clipped_update(start, std::move(trained), clip, within);
}

std::vector<float> clipped_update(const std::vector<float>& start, std::vector<float> trained, double clip,
                                  bool& within) {
  if (start.size() != trained.size())
    throw std::invalid_argument("clipped_update: " + std::to_string(trained.size()) + " trained weights, " +
                                std::to_string(start.size()) + " in the model");
  for (std::size_t i = 0; i < trained.size(); ++i)
    trained[i] -= start[i];
  within = clip_l2(trained, clip).norm <= clip;
  for (std::size_t i = 0; i < trained.size(); ++i)
    trained[i] += start[i];
  return trained;
}

noise_key central_key(std::uint64_t seed, std::uint32_t point, std::uint32_t round) {
  return {seed, point, round, std::numeric_limits<std::uint32_t>::max()};
}

std::vector<float> dp_fedavg_step(const std::vector<float>& current, const std::vector<float>& mean,
                                  std::size_t accepted, std::size_t asked, double noise_multiplier, double clip,
                                  const noise_key& key) {
  if (current.size() != mean.size())
    throw std::invalid_argument("dp_fedavg_step: the mean has " + std::to_string(mean.size()) +
                                " weights, the model " + std::to_string(current.size()));
  if (asked == 0 || accepted > asked)
    throw std::invalid_argument("dp_fedavg_step: " + std::to_string(accepted) + " updates accepted of " +
                                std::to_string(asked) + " asked");
  if (!std::isfinite(noise_multiplier) || noise_multiplier < 0 || !std::isfinite(clip) || clip <= 0)
    throw std::invalid_argument("dp_fedavg_step: noise multiplier " + std::to_string(noise_multiplier) +
                                " and clip " + std::to_string(clip) + " must be finite, >= 0 and > 0");
  std::vector<float> noise(current.size(), 0.0f);
  if (noise_multiplier > 0)
    noise_share(key, noise_multiplier * clip, 0, noise.data(), noise.size());
  const double n = static_cast<double>(accepted), m = static_cast<double>(asked);
  std::vector<float> next(current.size());
  for (std::size_t i = 0; i < current.size(); ++i) {
    double sum = n * (static_cast<double>(mean[i]) - static_cast<double>(current[i]));
    next[i] = static_cast<float>(static_cast<double>(current[i]) + (sum + static_cast<double>(noise[i])) / m);
  }
  return next;
}

} // namespace flotilla::fl::privacy
