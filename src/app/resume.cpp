#include "app/resume.hpp"

#include "common/sha256.hpp"
#include "config/config.hpp"
#include "config/key_classes.hpp"

namespace flotilla::app {

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
