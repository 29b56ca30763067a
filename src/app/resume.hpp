#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace flotilla::app {

/// Applies `overrides` to a run's saved configuration for `flotilla resume`: only the resumable
/// keys (data.root, runtime.*, output.progress, output.save_models) are allowed; anything else is
/// a config_error naming the key.
void apply_resume_overrides(nlohmann::json& config, const std::vector<std::string>& overrides);

} // namespace flotilla::app
