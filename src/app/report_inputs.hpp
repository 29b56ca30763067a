#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace flotilla::app {

/// The four files of one run directory, parsed but not interpreted: the report reads only
/// these, so it can be rebuilt from a copied or archived run.
struct run_files {
  std::string dir;
  nlohmann::json config;                ///< config.json
  nlohmann::json summary;               ///< summary.json
  nlohmann::json clusters;              ///< clusters.json
  std::vector<nlohmann::json> metrics;  ///< metrics.jsonl, one object per line
};

/// Reads config.json, metrics.jsonl, clusters.json and summary.json of `dir`; throws
/// report_error naming the first file that is missing or not valid JSON.
run_files read_run_files(const std::string& dir);

/// One JSON object from `path`; throws report_error when the file is missing, not JSON or not
/// an object. `hint` (what writes the file) completes the message for a missing file.
nlohmann::json read_json_object(const std::string& path, const std::string& hint);

/// Every non-empty line of a JSON-lines file as an object; throws report_error naming the
/// file and line of the first bad one.
std::vector<nlohmann::json> read_json_lines(const std::string& path);

} // namespace flotilla::app
