#include "fl/round_updates.hpp"

#include <cmath>

namespace flotilla::fl {

round_updates::round_updates(std::size_t model_size, bool keep) : acc_(model_size), keep_(keep) {}

std::string round_updates::accept(const client_update& u) {
  if (!u.weights)
    return "update carries no weights";
  if (losses_.count(u.client))
    return "a second update from client " + std::to_string(u.client) + " in the same round";
  if (auto reason = check_update(*u.weights, acc_.size()); !reason.empty())
    return reason;
  if (!std::isfinite(u.train_loss))
    return "update reports a non-finite training loss";
  acc_.add(u.samples, *u.weights);
  losses_.emplace(u.client, std::make_pair(u.samples, u.train_loss));
  if (keep_)
    kept_.emplace(u.client, u);
  return {};
}

double round_updates::train_loss() const {
  double sum = 0;
  std::uint64_t n = 0;
  for (const auto& [id, sl] : losses_) {
    sum += sl.second * static_cast<double>(sl.first);
    n += sl.first;
  }
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

std::vector<std::uint32_t> round_updates::clients() const {
  std::vector<std::uint32_t> out;
  for (const auto& [id, sl] : losses_)
    out.push_back(id);
  return out;
}

} // namespace flotilla::fl
