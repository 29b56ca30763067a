#include "fl/round_aggregate.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace flotilla::fl {

std::string round_aggregate::accept(std::uint32_t id, std::uint64_t samples, double loss,
                                    const std::vector<float>& weights) {
  if (auto reason = check_update(weights, acc_.size()); !reason.empty())
    return reason;
  if (!std::isfinite(loss))
    return "update reports a non-finite training loss";
  acc_.add(samples, weights);
  losses_.push_back({id, {samples, loss}});
  return {};
}

double round_aggregate::train_loss() const {
  auto sorted = losses_;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  std::uint64_t n = 0;
  for (const auto& [id, sl] : sorted) {
    sum += sl.second * static_cast<double>(sl.first);
    n += sl.first;
  }
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

std::vector<std::size_t> sample_participants(std::size_t n, double fraction, std::uint64_t seed) {
  std::vector<std::size_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  if (fraction >= 1.0 || n == 0)
    return all;
  auto k = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(n) - 1e-9)));
  std::mt19937_64 rng(seed);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(std::min(k, n));
  std::sort(all.begin(), all.end());
  return all;
}

} // namespace flotilla::fl
