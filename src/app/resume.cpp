#include "app/resume.hpp"

#include "common/sha256.hpp"
#include "config/config.hpp"
#include "config/key_classes.hpp"

namespace flotilla::app {

std::string run_id(const nlohmann::json& config, const std::string& data_fingerprint) {
  // The experiment's keys and the data it trains on; where the data lives and how this machine
  // runs it are no part of it (config/key_classes.json), so a run resumes on another machine.
  auto text = config::experiment_part(config).dump() + "\n" + data_fingerprint;
  return sha256_hex(text.data(), text.size());
}

void apply_resume_overrides(nlohmann::json& config, const std::vector<std::string>& overrides) {
  for (const auto& o : overrides) {
    auto key = o.substr(0, o.find('='));
    if (!config::is_resumable_key(key))
      throw config::config_error("'" + key + "' would change the experiment; a resume may only change data.root, "
                                 "runtime.* (e.g. runtime.nodes), output.progress and output.save_models "
                                 "(config/key_classes.json)");
    config::apply_override(config, o);
  }
}

} // namespace flotilla::app
