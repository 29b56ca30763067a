// One run's whole report model, its run and configuration tables, and its comparison row.
#include "report/model.hpp"

#include <filesystem>

#include "report/format.hpp"
#include "report/json.hpp"

namespace flotilla::report {

using json = nlohmann::json;
using namespace report_json;
namespace fmt = report_format;

namespace {

// A value of any shape as one line: objects as "key=value" pairs, lists joined.
std::string compact(const json& v) {
  if (v.is_null())
    return "none";
  if (v.is_string())
    return v.get<std::string>();
  if (v.is_number_float())
    return fmt::number(v.get<double>(), 4);
  if (v.is_array()) {
    std::string out;
    for (const auto& x : v)
      out += (out.empty() ? "" : x.is_object() ? "; " : ", ") + compact(x);
    return out.empty() ? "none" : out;
  }
  if (v.is_object()) {
    std::string out;
    for (const auto& [k, x] : v.items())
      out += (out.empty() ? "" : ", ") + k + "=" + (x.is_object() ? "{" + compact(x) + "}" : compact(x));
    return out.empty() ? "none" : out;
  }
  return v.dump();
}

// The strategy: summary.json when the run recorded it, else the configuration's.
json strategy_of(const run_files& run) {
  const json& s = at(run.summary, "strategy");
  return s.is_null() ? at(run.config, "strategy") : s;
}

std::string strategy_name(const run_files& run) {
  const json s = strategy_of(run);
  if (s.is_string())
    return s.get<std::string>();
  return s.is_object() ? text(s, "name").value_or("?") : "fedavg";
}

// Every knob of the strategy section (each strategy reads only the ones it needs).
std::string strategy_settings(const run_files& run) {
  json s = strategy_of(run);
  if (!s.is_object())
    return "";
  s.erase("name");
  return s.empty() ? "" : compact(s);
}

// Rounds until the target accuracy: a number, "not reached", or no target at all.
std::string rounds_to_target_text(const run_files& run) {
  const json& f = object(run.summary, "final");
  const json& v = at(f, "rounds_to_target");
  if (v.is_number())
    return fmt::count(v.get<double>());
  const auto target = number(object(run.config, "rounds"), "target_accuracy");
  if (!f.contains("rounds_to_target") || !target || *target <= 0)
    return "no target";
  return "not reached (" + fmt::percent(*target) + ")";
}

std::string method_text(const run_files& run) {
  if (auto m = text(object(run.summary, "clustering"), "method"))
    return *m;
  return text(object(run.config, "clustering"), "method").value_or("kmeans");
}

std::string silhouette_text(const json& clustering) {
  std::string out;
  for (const auto& [k, s] : object(clustering, "silhouette").items())
    out += (out.empty() ? "" : ", ") + ("k=" + k) + ": " +
           fmt::number(s.is_number() ? std::optional<double>(s.get<double>()) : std::nullopt);
  return out;
}

std::string name_of(const run_files& run) {
  if (auto n = text(run.summary, "name"))
    return *n;
  if (auto n = text(run.config, "name"))
    return *n;
  return std::filesystem::path(run.dir).filename().string();
}

void flatten(const json& j, const std::string& prefix, json& rows) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [k, v] : j.items())
      flatten(v, prefix.empty() ? k : prefix + "." + k, rows);
    return;
  }
  rows.push_back(json::array({prefix, j.is_string() ? j.get<std::string>() : j.dump()}));
}

} // namespace

json config_table(const json& config) {
  json rows = json::array();
  flatten(config, "", rows);
  return rows;
}

json run_table(const run_files& run) {
  const auto& f = object(run.summary, "final");
  const auto& t = object(run.summary, "timing");
  const auto& clustering = object(run.summary, "clustering");
  json rows = json::array();
  auto row = [&](const std::string& label, const std::string& value) {
    rows.push_back(json::array({label, value}));
  };
  row("run", name_of(run));
  row("directory", run.dir);
  std::string clients = fmt::count(number(run.config, "clients"));
  if (auto late = number(run.config, "late_clients"); late && *late > 0)
    clients += " + " + fmt::count(*late) + " late";
  row("clients", clients);
  const auto& data = object(run.config, "data");
  const auto& partition = object(run.config, "partition");
  row("data", text(data, "dataset").value_or("?") + ", " + text(partition, "scheme").value_or("?") + " partition");
  row("model", text(object(run.config, "model"), "name").value_or("?"));
  row("strategy", strategy_name(run));
  if (!strategy_settings(run).empty())
    row("  its settings", strategy_settings(run));
  std::string method = method_text(run);
  if (auto k = number(clustering, "k"))
    method += ", k = " + fmt::count(*k);
  row("clustering", method);
  if (auto ari = number(clustering, "adjusted_rand_index"))
    row("adjusted Rand index (clusters vs true groups)", fmt::number(*ari));
  if (!silhouette_text(clustering).empty())
    row("silhouette by k", silhouette_text(clustering));
  row("global model, test set", fmt::percent(number(f, "global_accuracy")));
  row("initial global model, test set", fmt::percent(number(f, "initial_global_accuracy")));
  row("personalized, clients' local splits (mean)", fmt::percent(number(f, "personalized_accuracy")));
  row("initial global model, same splits (mean)", fmt::percent(number(f, "initial_global_personalized_accuracy")));
  std::string per_cluster;
  for (const auto& [k, v] : object(f, "cluster_accuracy").items())
    per_cluster += (per_cluster.empty() ? "" : ", ") + k + ": " +
                   fmt::percent(v.is_number() ? std::optional<double>(v.get<double>()) : std::nullopt);
  if (!per_cluster.empty())
    row("per cluster, members' local splits", per_cluster);
  if (f.contains("rounds_to_target"))
    row("rounds to target", rounds_to_target_text(run));
  if (run.summary.contains("attack"))
    row("attack", compact(run.summary["attack"]));
  if (run.summary.contains("faults"))
    row("faults", compact(run.summary["faults"]));
  if (auto e = number(run.summary, "elections"))
    row("elections", fmt::count(*e));
  // privacy.*: what the run spent (every line's epsilon is in the rounds' data below too).
  const auto& privacy = object(run.config, "privacy");
  if (auto eps = number(f, "epsilon"))
    row("privacy: epsilon (largest over aggregation points)",
        fmt::number(*eps) + " at delta " + fmt::number(number(privacy, "delta").value_or(0)) + " (" +
          text(privacy, "dp").value_or("?") + " noise" +
          (privacy.value("adaptive_clip", false) ? ", adaptive clipping" : "") + ")");
  if (privacy.value("secure_aggregation", false))
    row("privacy: secure aggregation", "on, at least " + fmt::count(number(privacy, "min_cluster")) +
                                         " members a sum besides the aggregator");
  row("total time", fmt::seconds(number(t, "total_s")));
  row("  initial rounds", fmt::seconds(number(t, "initial_s")));
  row("  clustering + selection", fmt::seconds(number(t, "clustering_s")));
  row("  cluster rounds", fmt::seconds(number(t, "cluster_rounds_s")));
  if (auto w = number(t, "cluster_wait_s"))
    row("  clusters held at common points (sum)", fmt::seconds(w));
  row("  evaluation", fmt::seconds(number(t, "evaluation_s")));
  row("training throughput", fmt::count(number(t, "samples_per_s")) + " samples/s");
  row("samples trained / evaluated",
      fmt::count(number(t, "samples_trained")) + " / " + fmt::count(number(t, "samples_evaluated")));
  row("weights moved", fmt::bytes(number(t, "weight_bytes_moved")));
  row("peak memory (RSS)", fmt::bytes(number(t, "peak_rss_bytes")));
  if (auto sha = text(f, "global_model_sha256"))
    row("global model SHA-256", *sha);
  for (const auto& w : array(run.summary, "warnings"))
    row("warning", w.is_string() ? w.get<std::string>() : w.dump());
  return rows;
}

const std::vector<std::string>& comparison_columns() {
  static const std::vector<std::string> columns{
    "run", "directory", "strategy", "clustering", "ARI", "global (test)", "personalized (local)",
    "initial global (local)", "rounds to target", "total time", "samples/s", "peak RSS"};
  return columns;
}

json comparison_row(const run_files& run) {
  const auto& f = object(run.summary, "final");
  const auto& t = object(run.summary, "timing");
  const auto& clustering = object(run.summary, "clustering");
  std::string method = method_text(run);
  if (auto k = number(clustering, "k"))
    method += ", k = " + fmt::count(*k);
  return {{"run", name_of(run)},
          {"directory", run.dir},
          {"strategy", strategy_name(run)},
          {"clustering", method},
          {"ARI", fmt::number(number(clustering, "adjusted_rand_index"))},
          {"global (test)", fmt::percent(number(f, "global_accuracy"))},
          {"personalized (local)", fmt::percent(number(f, "personalized_accuracy"))},
          {"initial global (local)", fmt::percent(number(f, "initial_global_personalized_accuracy"))},
          {"rounds to target", rounds_to_target_text(run)},
          {"total time", fmt::seconds(number(t, "total_s"))},
          {"samples/s", fmt::count(number(t, "samples_per_s"))},
          {"peak RSS", fmt::bytes(number(t, "peak_rss_bytes"))}};
}

json run_model(const run_files& run) {
  const auto rounds = rounds_model(run);
  return {{"name", name_of(run)},
          {"dir", run.dir},
          {"rounds", rounds},
          {"timeline", timeline_model(run, rounds)},
          {"clients", clients_model(run)},
          {"contingency", contingency_model(run)},
          {"projection", projection_model(run)},
          {"selection", selection_model(run)},
          {"run_table", run_table(run)},
          // The results as summary.json holds them, unrounded (the tables show them formatted).
          {"final", object(run.summary, "final")},
          {"config_table", config_table(run.config)},
          {"comparison", comparison_row(run)}};
}

} // namespace flotilla::report
