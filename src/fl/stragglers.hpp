#pragma once
// System heterogeneity as the FedProx paper (Li et al., MLSys 2020) simulates it: each round a
// seeded fraction of the participants are stragglers that manage only part of the local work.
// FedAvg drops them (they miss the round's deadline); FedProx keeps their partial updates.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace flotilla::fl {

struct straggler_options {
  double fraction = 0; ///< rounds.stragglers: share of each round's participants that straggle
  /// strategy.stragglers: "drop" (not aggregated: FedAvg in the paper), "keep" (their partial
  /// work is aggregated: FedProx), "auto" (keep for fedprox, drop for every other strategy).
  std::string policy = "auto";
};

/// Whether stragglers' updates are aggregated under `options` with strategy `strategy_name`.
bool keeps_stragglers(const straggler_options& options, const std::string& strategy_name);

/// This round's stragglers among `participants` (sorted ids) and the local epochs each runs:
/// round(fraction x participants) of them, drawn from (seed, round) alone, each running a
/// uniform whole number of epochs in 1..epochs. Everyone else runs `epochs`. The same inputs
/// give the same answer in every process. FedProx's code draws 1..epochs - 1 (numpy's randint
/// excludes the high end); the 1..epochs is kept so E = 1 still trains.
std::map<std::uint32_t, std::uint32_t> stragglers_of(const std::vector<std::uint32_t>& participants, double fraction,
                                                      std::uint32_t epochs, std::uint32_t round, std::uint64_t seed);

} // namespace flotilla::fl
