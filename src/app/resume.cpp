#include "app/resume.hpp"

#include "common/sha256.hpp"
#include "config/config.hpp"

namespace flotilla::app {

namespace {
bool may_change(const std::string& key) {
  return key.rfind("runtime.", 0) == 0 || key == "output.progress";
}
} // namespace

std::string run_id(const nlohmann::json& config) {
  auto experiment = config;
  experiment.erase("runtime");
  if (experiment.contains("output"))
    experiment["output"].erase("progress");
  auto text = experiment.dump();
  return sha256_hex(text.data(), text.size());
}

void apply_resume_overrides(nlohmann::json& config, const std::vector<std::string>& overrides) {
  for (const auto& o : overrides) {
    auto key = o.substr(0, o.find('='));
    if (!may_change(key))
      throw config::config_error("'" + key + "' would change the experiment; a resume may only change runtime.* "
                                 "(e.g. runtime.nodes) and output.progress");
    config::apply_override(config, o);
  }
}

} // namespace flotilla::app
