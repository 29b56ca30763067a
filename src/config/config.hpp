#pragma once
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace flotilla::config {

/// A configuration file or override that cannot be used; the message names the key and what
/// is allowed.
class config_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// config/default.json as embedded at build time: every key with its default.
nlohmann::json default_config();

/// Merges `patch` into `base` (objects key by key, everything else replaced). Every key must
/// exist in `base` with the same JSON type; `where` prefixes key names in errors.
void merge_into(nlohmann::json& base, const nlohmann::json& patch, const std::string& where = "");

/// Applies one `dotted.key=value` override. The value is read as JSON when it parses as JSON,
/// as a string otherwise; lists may be given as JSON or comma-separated.
void apply_override(nlohmann::json& config, const std::string& assignment);

/// default <- file (when not empty) <- overrides, in that order (Hydra's habit).
nlohmann::json resolve_config(const std::string& file, const std::vector<std::string>& overrides);

/// What a node runs with: the coordinator's document (hostile until checked: depth, keys,
/// types) over the defaults, with everything local to the node's machine taken back from the
/// defaults (data.root, runtime.*, output.*: the coordinator's paths and threads mean nothing
/// there), then the node's own overrides.
nlohmann::json node_config(const nlohmann::json& received, const std::vector<std::string>& own_overrides);

/// A value as an error message may quote it: scalars as JSON (invalid UTF-8 replaced, at most
/// 80 characters), small flat lists and objects in full, anything larger or deeper only by its
/// kind and size. Never recurses into what it does not print, so no document can exhaust the
/// stack through an error message.
std::string describe(const nlohmann::json& value);

/// The deepest nesting a configuration document may have (the defaults nest 3 levels).
constexpr std::size_t max_config_depth = 16;

/// Refuses (config_error naming `where`) a document nested deeper than max_config_depth,
/// checked without recursion: copying or printing such a value would exhaust the stack.
void check_depth(const nlohmann::json& doc, const std::string& where);

/// Every leaf key of `config` in dotted form.
std::vector<std::string> dotted_keys(const nlohmann::json& config, const std::string& prefix = "");

/// The valid key closest to `key` by edit distance (for "did you mean" hints).
std::string closest_key(const std::string& key, const std::vector<std::string>& valid);

} // namespace flotilla::config
