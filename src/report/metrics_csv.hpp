#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace flotilla::report {

/// The columns of metrics.csv, in order: round_record's fields (fl/record_fields.hpp), every field
/// of a metrics.jsonl line.
const std::vector<std::string>& metrics_csv_columns();

/// One metrics.jsonl line as a CSV row (no line end): an absent field is an empty cell, a
/// list is its items joined by ';', text is quoted when it holds a comma, quote or line break.
std::string metrics_csv_row(const nlohmann::json& line);

/// Writes run_dir/metrics.csv from run_dir/metrics.jsonl: the header, then one row per line
/// (for pandas and spreadsheets). Throws report_error naming a missing or damaged file.
void write_metrics_csv(const std::string& run_dir);

} // namespace flotilla::report
