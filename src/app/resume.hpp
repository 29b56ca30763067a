#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace flotilla::app {

/// The identity of a run's experiment: SHA-256 of its resolved configuration without the keys
/// a resume may change (runtime.*, output.progress). A checkpoint carries it, so a checkpoint
/// of another run (or of a changed config.json) is refused.
std::string run_id(const nlohmann::json& config);

/// Applies `overrides` to a run's saved configuration for `flotilla resume`: only keys that do
/// not change the experiment (runtime.*, output.progress) are allowed; anything else is a
/// config_error naming the key.
void apply_resume_overrides(nlohmann::json& config, const std::vector<std::string>& overrides);

} // namespace flotilla::app
