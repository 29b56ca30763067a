#pragma once
// Internal to src/config (not for callers: include settings.hpp): the typed readers of a resolved
// configuration document that settings.cpp and the per-section readers (settings_*.cpp) share.
// Every reader throws config_error naming the key and what is allowed.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "fl/experiment.hpp"

namespace flotilla::config::detail {

using json = nlohmann::json;

inline const json& at(const json& doc, const std::string& dotted) {
  const json* node = &doc;
  std::stringstream parts(dotted);
  std::string part;
  while (std::getline(parts, part, '.'))
    node = &node->at(part);
  return *node;
}

template <class T>
T number(const json& doc, const std::string& key, T min, T max) {
  auto v = at(doc, key).get<double>();
  if (v < static_cast<double>(min) || v > static_cast<double>(max)) {
    std::ostringstream msg;
    msg << "config key '" << key << "' = " << describe(at(doc, key)) << " is out of range; allowed: " << min << " to "
        << max;
    throw config_error(msg.str());
  }
  return static_cast<T>(v);
}

inline std::string one_of(const json& doc, const std::string& key, const std::vector<std::string>& allowed) {
  auto v = at(doc, key).get<std::string>();
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed)
      list += (list.empty() ? "" : ", ") + a;
    throw config_error("config key '" + key + "' = \"" + v + "\" is not allowed; allowed: " + list);
  }
  return v;
}

inline std::string text(const json& doc, const std::string& key) {
  return at(doc, key).get<std::string>();
}

// A list of client ids, each below `clients`.
inline std::vector<std::uint32_t> client_ids(const json& doc, const std::string& key, std::uint32_t clients) {
  std::vector<std::uint32_t> out;
  for (const auto& c : at(doc, key)) {
    if (!c.is_number_unsigned() || c.get<std::uint64_t>() >= clients)
      throw config_error("config key '" + key + "': " + describe(c) + " is not a client id (0 to " +
                         std::to_string(clients - 1) + ")");
    out.push_back(c.get<std::uint32_t>());
  }
  return out;
}

inline constexpr auto u32_max = std::uint32_t{1000000};

/// privacy.* (settings_privacy.cpp): DP-FedAvg and secure aggregation, refusing what they cannot cover.
void read_privacy(const json& doc, fl::experiment& ex);

} // namespace flotilla::config::detail
