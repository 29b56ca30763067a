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
  auto n = static_cast<double>(samples);
  __int128* dst = sums_.data();
  const float* src = weights.data();
  for (std::size_t i = 0; i < sums_.size(); ++i) {
    if (!(std::fabs(src[i]) <= max_weight))
      throw std::invalid_argument("fedavg: weight " + std::to_string(src[i]) + " at index " + std::to_string(i) +
                                  " is not finite or beyond +-1e6");
    // n * w is exact in double (24-bit mantissa times < 2^29); scaling by 2^40 is exact too,
    // so every term is an exact integer and the sum does not depend on order.
    double term = std::nearbyint(n * static_cast<double>(src[i]) * fixed_scale);
    dst[i] += std::fabs(term) < 4.6e18 ? static_cast<__int128>(static_cast<std::int64_t>(term))
                                       : static_cast<__int128>(term); // rare: beyond int64

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

std::vector<float> fedavg(const std::vector<weighted_update>& updates) {
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
