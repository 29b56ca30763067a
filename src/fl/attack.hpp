#pragma once
// Simulation-only model poisoning, so robust aggregation can be shown to work: an attacking
// client trains honestly (or on flipped labels) and then sends a crafted update instead.
#include <cstdint>
#include <vector>

#include "fl/experiment.hpp"

namespace flotilla::fl {

/// The attack kinds `attack.kind` accepts.
const std::vector<std::string>& attack_kinds();

/// What an attacking client sends instead of its trained weights `local`, given the model it
/// started from (`global`):
///   sign_flip  global - scale * (local - global)
///   scale      global + scale * (local - global)
///   gaussian   global + noise whose norm is scale * ||local - global|| (seeded)
///   label_flip local unchanged (the attack is in the labels it trained on)
std::vector<float> poison(const attack_options& attack, const std::vector<float>& global, std::vector<float> local,
                          std::uint64_t seed);

/// The label map of a label-flip attacker: y -> classes - 1 - y, composed after `base` (the
/// client's own relabelling; empty = identity).
std::vector<std::int64_t> flipped_labels(const std::vector<std::int64_t>& base, std::size_t classes);

} // namespace flotilla::fl
