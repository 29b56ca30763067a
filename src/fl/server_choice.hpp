#pragma once
// Which member of a cluster serves it (selection.policy): a score per client, the lowest live
// member serving (cluster_registry::select_servers and every election use the same scores).
#include <cstdint>
#include <string>

#include "fl/devices.hpp"

namespace flotilla::fl {

/// selection.policy's values.
/// - resources: the seed's rule, the lowest CPU + memory use (server_score).
/// - fastest: under clock=virtual, the device that carries a model both ways and folds an
///   update soonest (its link and its speed, what a server's round costs per member).
/// - random: a seeded draw per client, the baseline the other two are measured against.
/// `device` is the client's under clock=virtual (null otherwise; fastest then throws
/// std::invalid_argument).
double server_choice_score(const std::string& policy, double cpu_percent, double mem_percent, const device* d,
                           std::uint64_t model_bytes, std::uint64_t seed, std::uint32_t client);

} // namespace flotilla::fl
