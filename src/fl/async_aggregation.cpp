#include "fl/async_aggregation.hpp"

#include <algorithm>
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

std::string check_async_state(const async_state& s, std::uint64_t step, std::uint32_t concurrency,
                              std::size_t parameters, std::uint32_t clients) {
  if (s.flights.size() > concurrency)
    return std::to_string(s.flights.size()) + " fits in flight, more than strategy.concurrency = " +
           std::to_string(concurrency);
  if (s.versions.size() > s.flights.size())
    return std::to_string(s.versions.size()) + " models for " + std::to_string(s.flights.size()) + " fits in flight";
  std::vector<std::uint32_t> seen;
  for (const auto& f : s.flights) {
    if (f.client >= clients)
      return "a fit in flight of client " + std::to_string(f.client) + ", not a client of the run";
    if (std::find(seen.begin(), seen.end(), f.client) != seen.end())
      return "client " + std::to_string(f.client) + " in flight twice";
    seen.push_back(f.client);
    if (f.version > step || !s.versions.count(f.version))
      return "client " + std::to_string(f.client) + "'s fit was sent version " + std::to_string(f.version) +
             ", which is not held (0 to " + std::to_string(step) + ")";
    if (!std::isfinite(f.done))
      return "client " + std::to_string(f.client) + "'s fit completes at a time that is not finite";
  }
  for (const auto& [v, w] : s.versions) {
    if (!w || w->size() != parameters)
      return "model version " + std::to_string(v) + " has " + std::to_string(w ? w->size() : 0) + " weights, not " +
             std::to_string(parameters);
    if (std::any_of(w->begin(), w->end(), [](float x) { return !std::isfinite(x); }))
      return "model version " + std::to_string(v) + " has a weight that is not finite";
  }
  return {};
}

std::optional<std::uint32_t> pick_client(const std::vector<std::uint32_t>& candidates, std::uint64_t seed,
                                         std::uint64_t version, std::uint64_t draw) {
  if (candidates.empty())
    return std::nullopt;
  auto h = splitmix64(splitmix64(splitmix64(seed ^ 0xa5b0ffull) + version) + draw);
  return candidates[h % candidates.size()];
}

} // namespace flotilla::fl
