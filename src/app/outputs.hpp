#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "config/settings.hpp"
#include "data/partition.hpp"
#include "fl/run_report.hpp"

namespace flotilla::app {

/// Beyond this many registered clients, summary.json and clusters.json list no client one by
/// one (a million clients' rows would be hundreds of MB of JSON): the aggregates stay, and a
/// warning says so.
inline constexpr std::size_t listed_clients_limit = 10000;
bool lists_clients(std::size_t clients);

/// clusters.json: members, server and every score per cluster, true groups when known.
nlohmann::json clusters_json(const fl::run_report& r, const std::vector<data::client_partition>& parts);

/// summary.json: final accuracies, model hash, clustering quality, timing.
nlohmann::json summary_json(const config::settings& s, const fl::run_report& r,
                            const std::vector<data::client_partition>& parts, double total_seconds,
                            std::uint64_t peak_rss);

/// Writes clusters.json, summary.json and (when output.save_models) models/*.pt, each
/// atomically; returns the summary it wrote. Throws output_error when a file cannot be written.
nlohmann::json write_outputs(const std::string& dir, const config::settings& s, const model::model_choice& model,
                             const fl::run_report& r, const std::vector<data::client_partition>& parts,
                             double total_seconds);

} // namespace flotilla::app
