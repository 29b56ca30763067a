#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace flotilla::app {

/// The identity of a run: SHA-256 of its resolved configuration without the machine-local keys
/// (config/key_classes.json: data.root, runtime.*, output.*) and of the data's fingerprint. A
/// checkpoint carries it, so a checkpoint of another run, of a changed config.json or over other
/// data is refused, while the same data at another path resumes.
std::string run_id(const nlohmann::json& config, const std::string& data_fingerprint);

/// Applies `overrides` to a run's saved configuration for `flotilla resume`: only the resumable
/// keys (data.root, runtime.*, output.progress, output.save_models) are allowed; anything else is
/// a config_error naming the key.
void apply_resume_overrides(nlohmann::json& config, const std::vector<std::string>& overrides);

} // namespace flotilla::app
