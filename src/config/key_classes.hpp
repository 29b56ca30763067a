#pragma once
// Which configuration keys belong to the experiment and which to a machine: one table
// (config/key_classes.json), read by a node taking the coordinator's configuration, by the run id
// and by resume, so the three cannot disagree (review P7).
#include <nlohmann/json.hpp>

#include <string>

namespace flotilla::config {

/// Machine-local: a node keeps its own value, and the run's identity leaves it out (data.root,
/// runtime.*, output.*).
bool is_machine_key(const std::string& dotted_key);

/// A resume may change it (a machine-local key that changes no result: data.root, runtime.*,
/// output.progress, output.save_models).
bool is_resumable_key(const std::string& dotted_key);

/// `config` without its machine-local keys: what identifies the experiment.
nlohmann::json experiment_part(const nlohmann::json& config);

/// The identity of a run: SHA-256 of its resolved configuration without the machine-local keys
/// and of the data's fingerprint (runtime::run_fingerprint). A checkpoint carries it, so a
/// checkpoint of another run, of a changed config.json or over other data is refused, while the
/// same data at another path resumes; a node names the directory of its clients' state by it.
std::string run_id(const nlohmann::json& config, const std::string& data_fingerprint);

/// `config` with every machine-local key taken from `local` (missing there: removed).
nlohmann::json with_machine_keys_of(const nlohmann::json& config, const nlohmann::json& local);

} // namespace flotilla::config
