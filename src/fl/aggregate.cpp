#include "fl/aggregate.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace flotilla::fl {

std::string check_update(const std::vector<float>& weights, std::size_t expected_size) {
  if (weights.size() != expected_size)
    return "update has " + std::to_string(weights.size()) + " weights, the model has " +
           std::to_string(expected_size);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i]))
      return "update has a non-finite weight (" + std::to_string(weights[i]) + ") at index " +
             std::to_string(i);
    if (std::fabs(weights[i]) > 1e6f)
      return "update has a weight of " + std::to_string(weights[i]) + " at index " + std::to_string(i) +
             " (beyond +-1e6: a diverged model)";
  }
  return {};
}

namespace {
constexpr double fixed_scale = 1099511627776.0; // 2^40
constexpr float max_weight = 1e6f;
} // namespace

fedavg_accumulator::fedavg_accumulator(std::size_t size) : sums_(size, 0) {}

void fedavg_accumulator::add(std::uint64_t samples, const std::vector<float>& weights) {
  if (weights.size() != sums_.size())
    throw std::invalid_argument("fedavg: update has " + std::to_string(weights.size()) + " weights, expected " +
                                std::to_string(sums_.size()));
  // Validate first (a plain, vectorizable pass), so the summing loop has no branch to leave by.
  float largest = 0;
  bool bad = false;
  for (float w : weights) {
    float a = std::fabs(w);
    bad |= !(a <= max_weight); // NaN and inf fail this
    largest = a > largest ? a : largest;
  }
  if (bad)
    for (std::size_t i = 0; i < weights.size(); ++i)
      if (!(std::fabs(weights[i]) <= max_weight))
        throw std::invalid_argument("fedavg: weight " + std::to_string(weights[i]) + " at index " +
                                    std::to_string(i) + " is not finite or beyond +-1e6");
  auto n = static_cast<double>(samples);
  __int128* dst = sums_.data();
  const float* src = weights.data();
  // n * w is exact in double (24-bit mantissa times < 2^29) and so is the scaling by 2^40;
  // rounding half away from zero makes each term a well-defined integer, so the sum does not
  // depend on the order updates arrive in.
  if (n * static_cast<double>(largest) * fixed_scale < 9.0e18) {
    for (std::size_t i = 0; i < sums_.size(); ++i) {
      double term = n * static_cast<double>(src[i]) * fixed_scale;
      dst[i] += static_cast<std::int64_t>(term + std::copysign(0.5, term)); // branch-free
    }
  } else { // terms beyond int64: rare (huge weights times many samples)
    for (std::size_t i = 0; i < sums_.size(); ++i) {
      double term = n * static_cast<double>(src[i]) * fixed_scale;
      dst[i] += static_cast<__int128>(std::trunc(term + std::copysign(0.5, term)));
    }
  }
  samples_ += samples;
  ++count_;
}

std::vector<float> fedavg_accumulator::mean() const {
  if (count_ == 0)
    throw std::invalid_argument("fedavg: no updates to aggregate");
  if (samples_ == 0)
    throw std::invalid_argument("fedavg: updates carry no samples");
  std::vector<float> out(sums_.size());
  double denom = static_cast<double>(samples_) * fixed_scale;
  for (std::size_t i = 0; i < sums_.size(); ++i)
    out[i] = static_cast<float>(static_cast<double>(sums_[i]) / denom);
  return out;
}

std::vector<float> weighted_mean(const std::vector<weighted_update>& updates) {
  if (updates.empty())
    throw std::invalid_argument("fedavg: no updates to aggregate");
  fedavg_accumulator acc(updates.front().weights->size());
  for (const auto& u : updates) {
    try {
      acc.add(u.samples, *u.weights);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(e.what()).replace(0, 7, "fedavg: client " + std::to_string(u.client_id) + ":"));
    }
  }
  return acc.mean();
}

} // namespace flotilla::fl
