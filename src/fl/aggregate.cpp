#include "fl/aggregate.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace flotilla::fl {

std::string check_update(const std::vector<float>& weights, std::size_t expected_size) {
  if (weights.size() != expected_size)
    return "update has " + std::to_string(weights.size()) + " weights, the model has " +
           std::to_string(expected_size);
  for (std::size_t i = 0; i < weights.size(); ++i)
    if (!std::isfinite(weights[i]))
      return "update has a non-finite weight (" + std::to_string(weights[i]) + ") at index " +
             std::to_string(i);
  return {};
}

std::vector<float> fedavg(std::vector<weighted_update> updates) {
  if (updates.empty())
    throw std::invalid_argument("fedavg: no updates to aggregate");
  std::sort(updates.begin(), updates.end(),
            [](const weighted_update& a, const weighted_update& b) { return a.client_id < b.client_id; });
  auto size = updates.front().weights->size();
  std::uint64_t total = 0;
  for (const auto& u : updates) {
    if (u.weights->size() != size)
      throw std::invalid_argument("fedavg: update of client " + std::to_string(u.client_id) +
                                  " has " + std::to_string(u.weights->size()) + " weights, expected " +
                                  std::to_string(size));
    total += u.samples;
  }
  if (total == 0)
    throw std::invalid_argument("fedavg: updates carry no samples");
  std::vector<float> out(size, 0.0f);
  float* dst = out.data();
  for (const auto& u : updates) {
    auto w = static_cast<float>(static_cast<double>(u.samples) / static_cast<double>(total));
    const float* src = u.weights->data();
    for (std::size_t i = 0; i < size; ++i)
      dst[i] += w * src[i];
  }
  return out;
}

} // namespace flotilla::fl
