#include "fl/async_aggregation.hpp"

#include <cmath>

#include "fl/seeds.hpp"

namespace flotilla::fl {

double staleness_weight(const async_options& o, std::uint32_t s) {
  if (o.staleness == "constant")
    return 1.0;
  if (o.staleness == "hinge")
    return s <= o.hinge_b ? 1.0 : 1.0 / (o.hinge_a * static_cast<double>(s - o.hinge_b) + 1.0);
  return 1.0 / std::pow(1.0 + static_cast<double>(s), o.exponent);
}

std::uint64_t buffered_weight(std::uint64_t samples, double w) {
  auto units = std::llround(static_cast<double>(samples) * w * 1024.0);
  return units < 1 ? 1 : static_cast<std::uint64_t>(units);
}

void in_flight::add(const fit& f) {
  by_done_[{f.done, f.client}] = f;
  by_client_[f.client] = f.done;
}

std::optional<in_flight::fit> in_flight::earliest() const {
  if (by_done_.empty())
    return std::nullopt;
  return by_done_.begin()->second;
}

void in_flight::remove(std::uint32_t client) {
  auto it = by_client_.find(client);
  if (it == by_client_.end())
    return;
  by_done_.erase({it->second, client});
  by_client_.erase(it);
}

std::optional<std::uint64_t> in_flight::oldest_version() const {
  std::optional<std::uint64_t> oldest;
  for (const auto& [key, f] : by_done_)
    if (!oldest || f.version < *oldest)
      oldest = f.version;
  return oldest;
}

std::vector<in_flight::fit> in_flight::all() const {
  std::vector<fit> out;
  for (const auto& [key, f] : by_done_)
    out.push_back(f);
  return out;
}

std::optional<std::uint32_t> pick_client(const std::vector<std::uint32_t>& candidates, std::uint64_t seed,
                                         std::uint64_t version, std::uint64_t draw) {
  if (candidates.empty())
    return std::nullopt;
  auto h = splitmix64(splitmix64(splitmix64(seed ^ 0xa5b0ffull) + version) + draw);
  return candidates[h % candidates.size()];
}

} // namespace flotilla::fl
