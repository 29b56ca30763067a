#include "fl/strategy.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#include "fl/strategies/fedavg.hpp"
#include "fl/strategies/fedavgm.hpp"
#include "fl/strategies/fedopt.hpp"
#include "fl/strategies/fedprox.hpp"
#include "fl/strategies/krum.hpp"
#include "fl/strategies/median.hpp"
#include "fl/strategies/trimmed_mean.hpp"

namespace flotilla::fl {

namespace {

using knobs_fn = const std::vector<knob_spec>& (*)();
using make_fn = std::unique_ptr<strategy> (*)(const strategy_options&);

// Every strategy: its name, the knobs it declares, how to make it. The one list make_strategy,
// strategy_names, knobs_of and all_knobs read.
struct registered {
  const char* name;
  knobs_fn knobs;
  make_fn make;
};

template <class S>
std::unique_ptr<strategy> make_as(const strategy_options& o) {
  return std::make_unique<S>(o);
}

const std::vector<knob_spec>& fedadagrad_knobs() { return fedopt::knobs("fedadagrad"); }
const std::vector<knob_spec>& fedadam_knobs() { return fedopt::knobs("fedadam"); }
const std::vector<knob_spec>& fedyogi_knobs() { return fedopt::knobs("fedyogi"); }

const std::vector<registered>& registry() {
  static const std::vector<registered> all{
    {"fedavg", &fedavg::knobs, &make_as<fedavg>},
    {"fedavgm", &fedavgm::knobs, &make_as<fedavgm>},
    {"fedprox", &fedprox::knobs, &make_as<fedprox>},
    {"fedadagrad", &fedadagrad_knobs, &make_as<fedopt>},
    {"fedadam", &fedadam_knobs, &make_as<fedopt>},
    {"fedyogi", &fedyogi_knobs, &make_as<fedopt>},
    {"median", &median::knobs, &make_as<median>},
    {"trimmed_mean", &trimmed_mean::knobs, &make_as<trimmed_mean>},
    {"krum", &krum::knobs, &make_as<krum>},
  };
  return all;
}

const registered* find_strategy(const std::string& name) {
  for (const auto& r : registry())
    if (name == r.name)
      return &r;
  return nullptr;
}

std::string number_text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

} // namespace

double strategy_options::knob(const std::string& key) const {
  auto it = knobs.find(key);
  if (it == knobs.end())
    throw strategy_error("strategy " + name + ": knob '" + key + "' (strategy." + key + ") is not set");
  return it->second;
}

const std::vector<knob_spec>& knobs_of(const std::string& name) {
  if (auto* r = find_strategy(name))
    return r->knobs();
  throw strategy_error("unknown strategy '" + name + "'");
}

const std::vector<knob_spec>& all_knobs() {
  static const std::vector<knob_spec> all = [] {
    std::vector<knob_spec> out;
    for (const auto& r : registry())
      for (const auto& k : r.knobs()) {
        auto same = std::find_if(out.begin(), out.end(), [&](const knob_spec& o) { return o.key == k.key; });
        if (same == out.end()) {
          out.push_back(k);
        } else if (same->default_value != k.default_value || same->min != k.min || same->max != k.max ||
                   same->integer != k.integer || same->client != k.client) {
          // One config key, one default and range: a declaration that disagrees is a bug.
          throw std::logic_error(std::string("strategy ") + r.name + " declares knob '" + k.key +
                                 "' unlike an earlier strategy (default, range or kind differ)");
        }
      }
    return out;
  }();
  return all;
}

const knob_spec* find_knob(const std::string& key) {
  for (const auto& k : all_knobs())
    if (k.key == key)
      return &k;
  return nullptr;
}

std::string knob_problem(const knob_spec& k, double v) {
  if (!(v >= k.min && v <= k.max))
    return "is out of range; allowed: " + number_text(k.min) + " to " + number_text(k.max);
  if (k.integer && v != std::floor(v))
    return "is not a whole number";
  return {};
}

strategy_options default_options(const std::string& name) {
  strategy_options o;
  o.name = name;
  for (const auto& k : all_knobs())
    o.knobs[k.key] = k.default_value;
  return o;
}

fit_config::fit_config(std::uint32_t round_, std::uint32_t epochs, double lr, double proximal_mu) : round(round_) {
  if (epochs != 0)
    values["epochs"] = epochs;
  if (lr != 0)
    values["lr"] = lr;
  if (proximal_mu != 0)
    values["proximal_mu"] = proximal_mu;
}

strategy::strategy(strategy_options options) : options_(std::move(options)) {
  for (const auto& k : knobs_of(options_.name)) {
    auto v = options_.knob(k.key);
    if (auto why = knob_problem(k, v); !why.empty())
      throw strategy_error("strategy " + options_.name + ": strategy." + k.key + " = " + number_text(v) + " " + why);
  }
  for (const auto& [key, v] : options_.knobs)
    if (!find_knob(key))
      throw strategy_error("strategy " + options_.name + ": '" + key + "' is not a knob of any strategy");
}

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
  fit_config c{round};
  for (const auto& k : knobs_of(options_.name))
    if (k.client)
      c.values[k.key] = options_.knob(k.key);
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
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& r : registry())
      out.emplace_back(r.name);
    return out;
  }();
  return names;
}

std::unique_ptr<strategy> make_strategy(const strategy_options& o) {
  if (auto* r = find_strategy(o.name))
    return r->make(o);
  throw strategy_error("unknown strategy '" + o.name + "'");
}

} // namespace flotilla::fl
