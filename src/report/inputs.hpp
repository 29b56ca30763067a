#pragma once
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flotilla::report {

/// The four files of one run directory, parsed but not interpreted: the report reads only
/// these, so it can be rebuilt from a copied or archived run.
struct run_files {
  std::string dir;
  nlohmann::json config;                ///< config.json
  nlohmann::json summary;               ///< summary.json
  nlohmann::json clusters;              ///< clusters.json
  std::vector<nlohmann::json> metrics;  ///< metrics.jsonl, one object per line
};

/// The largest run file the report reads; larger is damage, not a run (a run of 10,000 clients
/// writes a few MiB).
constexpr std::uintmax_t report_max_file_bytes = std::uintmax_t{64} << 20;

/// The deepest nesting a run file may have (runs write at most 4 levels).
constexpr std::size_t report_max_depth = 16;

/// The most JSON values the four files of one run may hold together: what the report holds in
/// memory grows with them (up to ~100 bytes each, and the page draws each one).
constexpr std::size_t report_max_values = 2'000'000;

/// Reads config.json, metrics.jsonl, clusters.json and summary.json of `dir`; throws
/// report_error naming the first file that is missing, not a regular file, larger than
/// report_max_file_bytes, nested deeper than report_max_depth or not valid JSON, or when the
/// run holds more than report_max_values values.
run_files read_run_files(const std::string& dir);

/// One JSON object from `path`; throws report_error when the file is missing, not a bounded
/// regular file, not JSON or not an object. `hint` (what writes the file) completes the message
/// for a missing file. Its values are taken from `values_left`.
nlohmann::json read_json_object(const std::string& path, const std::string& hint,
                                std::size_t& values_left);

/// Every non-empty line of a JSON-lines file as an object; throws report_error naming the
/// file and line of the first bad one. Its values are taken from `values_left`.
std::vector<nlohmann::json> read_json_lines(const std::string& path, std::size_t& values_left);

/// The same with a budget of report_max_values for this file alone.
std::vector<nlohmann::json> read_json_lines(const std::string& path);

} // namespace flotilla::report
