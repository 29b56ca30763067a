#include "fl/strategy.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "fl/strategies/fedavg.hpp"
#include "fl/strategies/fedavgm.hpp"
#include "fl/strategies/fedopt.hpp"
#include "fl/strategies/fedprox.hpp"
#include "fl/strategies/krum.hpp"
#include "fl/strategies/median.hpp"
#include "fl/strategies/trimmed_mean.hpp"

namespace flotilla::fl {

std::size_t participants_of(std::size_t n, double fraction) {
  if (fraction >= 1.0 || n == 0)
    return n;
  auto k = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(n) - 1e-9)));
  return std::min(k, n);
}

std::vector<std::size_t> sample_participants(std::size_t n, double fraction, std::uint64_t seed) {
  std::vector<std::size_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  if (fraction >= 1.0 || n == 0)
    return all;
  std::mt19937_64 rng(seed);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(participants_of(n, fraction));
  std::sort(all.begin(), all.end());
  return all;
}

fit_plan strategy::configure_fit(std::uint32_t round, const std::vector<std::uint32_t>& available, double fraction,
                                 std::uint64_t seed) const {
  fit_plan plan;
  for (auto i : sample_participants(available.size(), fraction, seed))
    plan.participants.push_back(available[i]);
  plan.config = fit_config_for(round);
  return plan;
}

fit_config strategy::fit_config_for(std::uint32_t round) const {
  fit_config c;
  c.round = round;
  return c;
}

std::string strategy::cannot_aggregate(const round_updates& updates) const {
  return updates.count() == 0 ? "no update to aggregate" : std::string{};
}

std::string strategy::cannot_ever_aggregate(std::size_t) const {
  return {}; // a round without participants is the round engine's business (a cluster with nobody left)
}

std::vector<float> strategy::aggregate_fit(std::uint32_t round, const std::vector<float>& current,
                                           const round_updates& updates, const std::vector<client_failure>&) {
  if (auto why = cannot_aggregate(updates); !why.empty())
    throw strategy_error(options_.name + ": " + why);
  if (keeps_updates() && !updates.keeps())
    throw strategy_error(options_.name + " needs every update, but the round streamed them");
  if (current.size() != updates.model_size())
    throw strategy_error(options_.name + ": the current model has " + std::to_string(current.size()) +
                         " weights, the updates " + std::to_string(updates.model_size()));
  return aggregate(round, current, updates);
}

strategy_state strategy::state() const {
  return {options_.name, 0, {}};
}

void strategy::restore(const strategy_state& s, std::size_t model_size) {
  if (s.strategy != options_.name)
    throw strategy_error("the saved strategy state belongs to '" + s.strategy + "', not '" + options_.name + "'");
  auto buffers = [](std::size_t n) { return std::to_string(n) + (n == 1 ? " buffer" : " buffers"); };
  auto names = state_buffers();
  std::string list;
  for (const auto& n : names)
    list += (list.empty() ? "" : ", ") + n;
  if (names.empty() && !s.buffers.empty())
    throw strategy_error(options_.name + " keeps no state, but the saved state has " + buffers(s.buffers.size()));
  if (!s.buffers.empty() && s.buffers.size() != names.size())
    throw strategy_error(options_.name + " keeps " + buffers(names.size()) + " (" + list +
                         ") or none, but the saved state has " + std::to_string(s.buffers.size()));
  for (std::size_t b = 0; b < s.buffers.size(); ++b) {
    const auto& v = s.buffers[b];
    if (v.size() != model_size)
      throw strategy_error(options_.name + ": the saved buffer '" + names[b] + "' has " + std::to_string(v.size()) +
                           " values, the model " + std::to_string(model_size) + " weights");
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]))
        throw strategy_error(options_.name + ": the saved buffer '" + names[b] + "' has a non-finite value at index " +
                             std::to_string(i));
  }
  restore_checked(s);
}

void strategy::restore(const strategy_state& s) {
  restore(s, s.buffers.empty() ? 0 : s.buffers.front().size());
}

const std::vector<std::string>& strategy_names() {
  static const std::vector<std::string> names{"fedavg", "fedavgm", "fedprox", "fedadagrad", "fedadam",
                                              "fedyogi", "median", "trimmed_mean", "krum"};
  return names;
}

std::unique_ptr<strategy> make_strategy(const strategy_options& o) {
  if (o.name == "fedavg")
    return std::make_unique<fedavg>(o);
  if (o.name == "fedavgm")
    return std::make_unique<fedavgm>(o);
  if (o.name == "fedprox")
    return std::make_unique<fedprox>(o);
  if (o.name == "fedadagrad" || o.name == "fedadam" || o.name == "fedyogi")
    return std::make_unique<fedopt>(o);
  if (o.name == "median")
    return std::make_unique<median>(o);
  if (o.name == "trimmed_mean")
    return std::make_unique<trimmed_mean>(o);
  if (o.name == "krum")
    return std::make_unique<krum>(o);
  throw strategy_error("unknown strategy '" + o.name + "'");
}

} // namespace flotilla::fl
