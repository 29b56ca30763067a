#include "config/config.hpp"
#include "config/key_classes.hpp"

#include <algorithm>
#include <cstdint>
#include <sstream>

#include "common/json_shape.hpp"
#include "common/small_file.hpp"
#include "default_config.hpp"

namespace flotilla::config {

using json = nlohmann::json;

namespace {

std::string type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    case json::value_t::boolean:
      return "true or false";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "a list";
    case json::value_t::object:
      return "an object";
    default:
      return "null";
  }
}

bool same_kind(const json& expected, const json& got) {
  if (expected.is_number_float())
    return got.is_number();
  if (expected.is_number_integer())
    return got.is_number_integer() ||
           (got.is_number_float() && got.get<double>() == static_cast<double>(got.get<std::int64_t>()));
  return expected.type() == got.type();
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The largest file --config reads: the defaults are about 4 KiB.
constexpr std::uintmax_t max_config_file_bytes = std::uintmax_t{4} << 20;

json parse_scalar(const std::string& text) {
  auto parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded())
    return json(text);
  check_depth(parsed, "the value '" + text.substr(0, 40) + (text.size() > 40 ? "...'" : "'"));
  return parsed;
}

} // namespace

std::string describe(const json& v) {
  auto text = [](const json& x) {
    auto s = x.dump(-1, ' ', false, json::error_handler_t::replace);
    return s.size() > 80 ? s.substr(0, 77) + "..." : s;
  };
  if (v.is_array() || v.is_object()) {
    bool flat = v.size() <= 16;
    for (const auto& x : v)
      flat = flat && !x.is_array() && !x.is_object();
    if (flat)
      return text(v);
    return (v.is_array() ? "a list of " : "an object of ") + std::to_string(v.size()) + " entries";
  }
  return text(v);
}

void check_depth(const json& doc, const std::string& where) {
  std::vector<std::pair<const json*, std::size_t>> todo{{&doc, 1}};
  while (!todo.empty()) {
    auto [v, depth] = todo.back();
    todo.pop_back();
    if (depth > max_config_depth)
      throw config_error(where + " nests values deeper than " + std::to_string(max_config_depth) +
                         " levels; no configuration key needs that");
    if (v->is_array() || v->is_object())
      for (const auto& x : *v)
        todo.push_back({&x, depth + 1});
  }
}

json default_config() {
  return json::parse(default_config_json);
}

std::vector<std::string> dotted_keys(const json& config, const std::string& prefix) {
  std::vector<std::string> out;
  for (auto it = config.begin(); it != config.end(); ++it) {
    auto key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object()) {
      auto inner = dotted_keys(*it, key);
      out.insert(out.end(), inner.begin(), inner.end());
    } else {
      out.push_back(key);
    }
  }
  return out;
}

std::string closest_key(const std::string& key, const std::vector<std::string>& valid) {
  std::string best;
  auto best_d = std::string::npos;
  for (const auto& candidate : valid) {
    auto d = edit_distance(key, candidate);
    if (d < best_d) {
      best_d = d;
      best = candidate;
    }
  }
  return best;
}

namespace {
// Whether the default configuration holds a real (not an integer) at this dotted key.
bool real_by_default(const std::string& key) {
  static const json defaults = default_config();
  const json* at = &defaults;
  std::stringstream parts(key);
  std::string part;
  while (std::getline(parts, part, '.')) {
    if (!at->is_object() || !at->contains(part))
      return false;
    at = &(*at)[part];
  }
  return at->is_number_float();
}
} // namespace

void merge_into(json& base, const json& patch, const std::string& where) {
  if (!patch.is_object())
    throw config_error((where.empty() ? std::string("configuration") : where) +
                       ": expected an object, got " + type_name(patch));
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    auto key = where.empty() ? it.key() : where + "." + it.key();
    if (!base.contains(it.key())) {
      throw config_error("unknown config key '" + key + "'; did you mean '" +
                         closest_key(key, dotted_keys(default_config())) +
                         "'? (`flotilla config` lists every key)");
    }
    auto& target = base[it.key()];
    if (target.is_object()) {
      merge_into(target, *it, key);
    } else if (key == "clustering.k" && *it == json("auto")) {
      target = *it; // the one key that takes a word besides its number: k chosen by silhouette
    } else if (real_by_default(key) && it->is_number()) {
      // A real key keeps its kind whatever an earlier layer wrote: given as 1 by a file, it
      // may still be 0.5 on the command line (the number is kept as written).
      target = *it;
    } else if (!same_kind(target, *it)) {
      throw config_error("config key '" + key + "' must be " + type_name(target) + ", got " +
                         describe(*it));
    } else {
      target = target.is_number_integer() && it->is_number_float()
                   ? json(static_cast<std::int64_t>(it->get<double>()))
                   : *it;
    }
  }
}

void apply_override(json& config, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw config_error("override '" + assignment + "' is not of the form key=value (e.g. clients=8)");
  auto key = trim(assignment.substr(0, eq));
  auto text = trim(assignment.substr(eq + 1));
  // Find the default value's type to read the text as that type.
  const json* expected = &config;
  std::stringstream parts(key);
  std::string part;
  while (std::getline(parts, part, '.')) {
    if (!expected->is_object() || !expected->contains(part))
      throw config_error("unknown config key '" + key + "'; did you mean '" +
                         closest_key(key, dotted_keys(default_config())) +
                         "'? (`flotilla config` lists every key)");
    expected = &(*expected)[part];
  }
  json value;
  if (expected->is_string()) {
    value = text.size() >= 2 && text.front() == '"' ? parse_scalar(text) : json(text);
  } else if (expected->is_array() && (text.empty() || text.front() != '[')) {
    value = json::array();
    std::stringstream items(text);
    std::string item;
    while (std::getline(items, item, ','))
      if (!trim(item).empty())
        value.push_back(parse_scalar(trim(item)));
  } else {
    value = parse_scalar(text);
  }
  // Rebuild the nested patch so merge_into does the type check once, in one place.
  json patch = value;
  std::vector<std::string> path;
  std::stringstream again(key);
  while (std::getline(again, part, '.'))
    path.push_back(part);
  for (auto it = path.rbegin(); it != path.rend(); ++it)
    patch = json{{*it, patch}};
  merge_into(config, patch);
}

json resolve_config(const std::string& file, const std::vector<std::string>& overrides) {
  auto config = default_config();
  if (!file.empty()) {
    // Hostile until checked: a directory, a FIFO or /dev/zero is refused before it is read.
    const auto text = read_small_file(file, max_config_file_bytes);
    if (text.status == small_file_status::missing)
      throw config_error("config file '" + file + "' cannot be read (does it exist?)");
    if (!text.ok())
      throw config_error("config file '" + file + "' " + text.problem + "; --config takes a JSON file of at most " +
                         std::to_string(max_config_file_bytes >> 20) + " MiB");
    if (measure_json(text.bytes).depth > max_config_depth)
      throw config_error("config file '" + file + "' nests values deeper than " + std::to_string(max_config_depth) +
                         " levels; no configuration key needs that");
    json patch;
    try {
      patch = json::parse(text.bytes);
    } catch (const json::parse_error& e) {
      throw config_error("config file '" + file + "' is not valid JSON: " + e.what());
    }
    check_depth(patch, "config file '" + file + "'");
    merge_into(config, patch);
  }
  for (const auto& o : overrides)
    apply_override(config, o);
  return config;
}

json node_config(const json& received, const std::vector<std::string>& own_overrides) {
  // Over the defaults: unknown keys and wrong types are refused as configuration errors,
  // missing ones take their default.
  const auto defaults = default_config();
  auto config = defaults;
  check_depth(received, "the coordinator's configuration");
  merge_into(config, received);
  // The coordinator's machine-local keys are not this machine's (config/key_classes.json).
  config = with_machine_keys_of(config, defaults);
  for (const auto& o : own_overrides)
    apply_override(config, o);
  return config;
}

} // namespace flotilla::config
