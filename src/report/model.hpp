#pragma once
// The report's data: what each chart and table shows, computed from a run's files into plain
// JSON that the page's script draws. Whatever a run did not record (older runs lack the newer
// fields) comes out null or empty, and the page says so instead of failing.
#include <nlohmann/json.hpp>

#include <vector>

#include "report/inputs.hpp"

namespace flotilla::report {

/// Everything the page shows of one run: name, dir, rounds, timeline, clients, contingency,
/// projection, selection, run and config tables.
nlohmann::json run_model(const run_files& run);

/// initial_rounds; series (the global model's rounds, then one per cluster, each point at
/// x = round in the initial phase and initial_rounds + round in the cluster phase); overall
/// (per x: the global model, or the sample-weighted mean over clusters); events (failures,
/// missed quorums, elections, splits, late joins, failed clusters, target reached).
nlohmann::json rounds_model(const run_files& run);

/// Phases laid end to end (from summary timing) and one lane of round bars for the global
/// model and for each cluster, with elections and late joins as marks.
nlohmann::json timeline_model(const run_files& run, const nlohmann::json& rounds);

/// Per client: cluster, true group, personalized and initial-global accuracy, samples, and
/// whether it serves, joined late or attacks.
nlohmann::json clients_model(const run_files& run);

/// Clusters x true groups counts with the adjusted Rand index; null without true groups.
nlohmann::json contingency_model(const run_files& run);

/// The clients' 2-D PCA coordinates with cluster, group and server flag; null when the run
/// recorded no projection.
nlohmann::json projection_model(const run_files& run);

/// Per cluster: every member's cpu, mem and score (lowest first), the chosen server marked.
nlohmann::json selection_model(const run_files& run);

/// The run's results, timing, throughput and memory as [label, value] rows.
nlohmann::json run_table(const run_files& run);

/// The resolved configuration as [dotted.key, value] rows.
nlohmann::json config_table(const nlohmann::json& config);

/// One run's row of the comparison table: {column: text}.
nlohmann::json comparison_row(const run_files& run);

/// The comparison table's columns, in order.
const std::vector<std::string>& comparison_columns();

} // namespace flotilla::report
