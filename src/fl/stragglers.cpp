#include "fl/stragglers.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace flotilla::fl {

namespace {

constexpr std::uint32_t straggler_domain = 0x57a66u;

} // namespace

bool keeps_stragglers(const straggler_options& options, const std::string& strategy_name) {
  if (options.policy == "keep")
    return true;
  if (options.policy == "drop")
    return false;
  return strategy_name == "fedprox";
}

std::map<std::uint32_t, std::uint32_t> stragglers_of(const std::vector<std::uint32_t>& participants, double fraction,
                                                      std::uint32_t epochs, std::uint32_t round, std::uint64_t seed) {
  std::map<std::uint32_t, std::uint32_t> out;
  if (!(fraction > 0) || participants.empty())
    return out;
  auto n = static_cast<std::size_t>(std::lround(std::min(1.0, fraction) * static_cast<double>(participants.size())));
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32), round, straggler_domain};
  std::mt19937_64 rng(seq);
  auto order = participants;
  // A partial Fisher-Yates with explicit draws: std::shuffle's use of the engine is not fixed
  // by the standard, and every process must pick the same stragglers.
  for (std::size_t i = 0; i < n; ++i) {
    auto j = i + static_cast<std::size_t>(rng() % (order.size() - i));
    std::swap(order[i], order[j]);
  }
  for (std::size_t i = 0; i < n; ++i)
    out[order[i]] = 1 + static_cast<std::uint32_t>(rng() % std::max<std::uint32_t>(1, epochs));
  return out;
}

} // namespace flotilla::fl
