#include "fl/privacy/dp_clip.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace flotilla::fl::privacy {

namespace {

// 1 - 2^-22: covers float rounding of the scaled values (2^-24 of the norm) plus the norm's own
// double rounding (n 2^-53, below 2^-23 for n <= 2^30).
constexpr double clip_margin = 1.0 - 1.0 / 4194304.0;

std::string show(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

} // namespace

double l2_norm(const float* v, std::size_t n) {
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double x = v[i];
    sum += x * x;
  }
  return std::sqrt(sum);
}

clip_result clip_l2(float* v, std::size_t n, double clip) {
  if (!(clip > 0 && std::isfinite(clip)))
    throw std::invalid_argument("dp_clip: clip norm must be positive and finite, got " +
                                show(clip));
  clip_result r;
  r.norm = l2_norm(v, n);
  if (!std::isfinite(r.norm))
    throw std::invalid_argument("dp_clip: the update holds NaN or infinity (norm " +
                                show(r.norm) + "); it cannot be clipped");
  if (r.norm <= clip) return r;
  r.scale = clip / r.norm * clip_margin;
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(static_cast<double>(v[i]) * r.scale);
  return r;
}

clip_result clip_l2(std::vector<float>& v, double clip) { return clip_l2(v.data(), v.size(), clip); }

double noised_fraction_below(std::size_t below, std::size_t members, std::size_t expected_members,
                             double count_stddev, double standard_normal) {
  if (below > members)
    throw std::invalid_argument("dp_clip: " + std::to_string(below) + " members below the clip of " +
                                std::to_string(members));
  if (expected_members == 0)
    throw std::invalid_argument("dp_clip: the expected number of members must be positive");
  if (!(count_stddev >= 0 && std::isfinite(count_stddev)))
    throw std::invalid_argument("dp_clip: clipped-count noise stddev must be >= 0 and finite, got " +
                                show(count_stddev));
  if (!std::isfinite(standard_normal))
    throw std::invalid_argument("dp_clip: the count's noise draw is not finite");
  double centred = static_cast<double>(below) - 0.5 * static_cast<double>(members);
  double b = (centred + count_stddev * standard_normal) / static_cast<double>(expected_members) + 0.5;
  return std::clamp(b, 0.0, 1.0);
}

double fraction_from_noised_count(double noised_below, std::size_t members, std::size_t expected_members) {
  if (expected_members == 0)
    throw std::invalid_argument("dp_clip: the expected number of members must be positive");
  if (!std::isfinite(noised_below))
    throw std::invalid_argument("dp_clip: the noised clipped count is not finite");
  double b = (noised_below - 0.5 * static_cast<double>(members)) / static_cast<double>(expected_members) + 0.5;
  return std::clamp(b, 0.0, 1.0);
}

double next_clip(double clip, double fraction, const adaptive_clip_rule& rule) {
  if (fraction < 0)
    return clip;
  return std::clamp(adaptive_clip_update(clip, fraction, rule.target_quantile, rule.learning_rate), min_clip, max_clip);
}

double count_stddev(std::size_t expected_members, double noise_multiplier) {
  if (expected_members == 0)
    throw std::invalid_argument("dp_clip: the expected number of members must be positive");
  if (!(noise_multiplier > 0 && std::isfinite(noise_multiplier)))
    throw std::invalid_argument("dp_clip: noise multiplier must be positive and finite, got " + show(noise_multiplier));
  return std::max(static_cast<double>(expected_members) / 20.0, noise_multiplier);
}

double adaptive_clip_update(double clip, double fraction_below, double target_quantile,
                            double learning_rate) {
  if (!(clip > 0 && std::isfinite(clip)))
    throw std::invalid_argument("dp_clip: clip norm must be positive and finite, got " +
                                show(clip));
  if (!(fraction_below >= 0 && fraction_below <= 1))
    throw std::invalid_argument("dp_clip: fraction below the clip must be in [0, 1], got " +
                                show(fraction_below));
  if (!(target_quantile >= 0 && target_quantile <= 1))
    throw std::invalid_argument("dp_clip: target quantile must be in [0, 1], got " +
                                show(target_quantile));
  if (!(learning_rate >= 0 && std::isfinite(learning_rate)))
    throw std::invalid_argument("dp_clip: clip learning rate must be >= 0 and finite, got " +
                                show(learning_rate));
  return clip * std::exp(-learning_rate * (fraction_below - target_quantile));
}

double update_noise_multiplier(double noise_multiplier, double count_stddev) {
  if (!(noise_multiplier > 0 && std::isfinite(noise_multiplier)))
    throw std::invalid_argument("dp_clip: noise multiplier must be positive and finite, got " +
                                show(noise_multiplier));
  if (!(2 * count_stddev > noise_multiplier && std::isfinite(count_stddev)))
    throw std::invalid_argument(
        "dp_clip: clipped-count noise stddev must exceed half the noise multiplier (" +
        show(noise_multiplier / 2) + "), got " + show(count_stddev) +
        "; otherwise the count spends the whole budget");
  double rest = 1 / (noise_multiplier * noise_multiplier) -
                1 / (4 * count_stddev * count_stddev);
  return 1 / std::sqrt(rest);
}

} // namespace flotilla::fl::privacy
