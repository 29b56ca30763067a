#pragma once
// Synthetic run directories for the report's tests: what today's binary writes, and the same
// with every field the newer coordinator adds. metrics.jsonl lines come from the real writer
// (app::metrics_line over a round_record), so a fixture cannot invent a field.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <stdexcept>
#include <vector>

#include "app/record_json.hpp"

namespace flotilla::test {

using json = nlohmann::json;
namespace fs = std::filesystem;

inline void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// One metrics.jsonl line (with its newline), as the run writes it; `extra` sets more fields of
/// the round record by name (an unknown name is a test bug: nothing would write it).
inline std::string metrics_line(const char* phase, int round, json cluster, int clients, std::vector<int> failed,
                                double loss, double accuracy, json extra = json::object()) {
  fl::round_record r;
  r.phase = phase;
  r.round = static_cast<std::uint32_t>(round);
  r.cluster = cluster.is_null() ? fl::no_cluster : cluster.get<std::uint32_t>();
  r.clients = static_cast<std::uint32_t>(clients);
  r.failures = static_cast<std::uint32_t>(failed.size());
  r.failed.assign(failed.begin(), failed.end());
  r.train_loss = loss;
  r.test_accuracy = accuracy;
  r.seconds = 1.5;
  const auto names = fl::round_record_names();
  for (auto it = extra.begin(); it != extra.end(); ++it)
    if (std::find(names.begin(), names.end(), it.key()) == names.end())
      throw std::invalid_argument("a round record has no field '" + it.key() + "'");
  json line = r;
  line.update(extra);
  return app::metrics_line(line.get<fl::round_record>()) + "\n";
}

/// A run as today's binary writes it: 6 clients in 2 true groups, k = 2, 2 + 3 rounds, client 5
/// failing in initial round 2.
inline void write_run(const fs::path& dir, const std::string& name = "synthetic") {
  fs::create_directories(dir);
  write_file(dir / "config.json", json{{"name", name},
                                       {"seed", 42},
                                       {"clients", 6},
                                       {"data", {{"dataset", "mnist"}}},
                                       {"partition", {{"scheme", "rotated"}, {"groups", 2}}},
                                       {"model", {{"name", "cnn"}}},
                                       {"rounds", {{"initial", 2}, {"cluster", 3}}},
                                       {"clustering", {{"k", 2}}}}
                                    .dump(2));
  std::string metrics = metrics_line("initial", 1, nullptr, 6, {}, 0.9, 0.51) +
                        metrics_line("initial", 2, nullptr, 5, {5}, 0.4, 0.62,
                                     {{"failure_reasons", {"client 5: timed out, after 600 s"}}});
  for (int r = 1; r <= 3; ++r)
    for (int c = 0; c < 2; ++c)
      metrics += metrics_line("cluster", r, c, 3, {}, 0.3 / r, 0.9 + 0.02 * r + 0.01 * c);
  write_file(dir / "metrics.jsonl", metrics);
  json clusters{{"clusters",
                 {{{"id", 0}, {"members", {0, 2, 4}}, {"server", 2}, {"samples", 900}, {"accuracy", 0.96},
                   {"scores",
                    {{"0", {{"cpu", 50.0}, {"mem", 10.0}, {"score", 60.0}, {"profiled", false}}},
                     {"2", {{"cpu", 20.0}, {"mem", 10.0}, {"score", 30.0}, {"profiled", true}}},
                     {"4", {{"cpu", 30.0}, {"mem", 10.0}, {"score", 40.0}, {"profiled", false}}}}}},
                  {{"id", 1}, {"members", {1, 3, 5}}, {"server", 1}, {"samples", 600}, {"accuracy", 0.97},
                   {"scores",
                    {{"1", {{"cpu", 5.0}, {"mem", 5.0}, {"score", 10.0}}},
                     {"3", {{"cpu", 9.0}, {"mem", 5.0}, {"score", 14.0}}},
                     {"5", {{"cpu", 7.0}, {"mem", 5.0}, {"score", 12.0}}}}}}}},
                {"rule", "server = argmin(cpu + mem)"},
                {"true_groups", {{"0", 0}, {"1", 1}, {"2", 0}, {"3", 1}, {"4", 0}, {"5", 1}}},
                {"unclustered", json::array()}};
  write_file(dir / "clusters.json", clusters.dump(2));
  json clients = json::object();
  for (int i = 0; i < 6; ++i)
    clients[std::to_string(i)] = {{"cluster", i % 2},          {"group", i % 2},      {"personalized_accuracy", 0.95},
                                  {"initial_global_accuracy", 0.6}, {"train_samples", 300}, {"test_samples", 75}};
  json summary{{"name", name},
               {"final",
                {{"global_accuracy", 0.66},
                 {"initial_global_accuracy", 0.62},
                 {"personalized_accuracy", 0.95},
                 {"initial_global_personalized_accuracy", 0.6},
                 {"cluster_accuracy", {{"0", 0.96}, {"1", 0.97}}},
                 {"global_model_sha256", "abc123"}}},
               {"clients", clients},
               {"clustering", {{"k", 2}, {"assignment", {0, 1, 0, 1, 0, 1}}, {"adjusted_rand_index", 1.0}}},
               {"timing",
                {{"total_s", 20.0}, {"initial_s", 3.0}, {"clustering_s", 1.0}, {"cluster_rounds_s", 4.5},
                 {"evaluation_s", 0.5}, {"samples_per_s", 5000.0}, {"samples_trained", 100000},
                 {"samples_evaluated", 20000}, {"weight_bytes_moved", 1 << 24}, {"peak_rss_bytes", 1 << 29}}},
               {"warnings", json::array()}};
  write_file(dir / "summary.json", summary.dump(2));
}

/// The same run with every field the newer coordinator adds: test loss, server terms, IFCA
/// reassignments, elections, a late client, a CFL split, a projection, silhouettes, strategy,
/// attack and faults.
inline void add_new_fields(const fs::path& dir) {
  std::string metrics = read_file(dir / "metrics.jsonl");
  metrics += metrics_line("cluster", 4, 1, 2, {}, 0.2, 0.5,
                          {{"aggregated", false}, {"test_loss", 0.7}, {"server", 3}, {"term", 2}, {"asked", 3},
                           {"reassigned", 2}, {"not_aggregated", "quorum missed: 2 of 3 answered"}});
  metrics += metrics_line("cluster", 3, 2, 2, {}, 0.1, 0.93, {{"test_loss", 0.2}, {"term", 1}, {"reassigned", 0}});
  write_file(dir / "metrics.jsonl", metrics);
  auto clusters = json::parse(read_file(dir / "clusters.json"));
  clusters["clusters"][0]["elections"] = {
    {{"round", 2}, {"term", 2}, {"from", 2}, {"to", 4}, {"reason", "server crashed"}}};
  clusters["clusters"].push_back({{"id", 2}, {"members", {6}}, {"server", 6}, {"created_round", 2}, {"parent", 1},
                                  {"failure", "server lost"}, {"rounds_done", 3}});
  clusters["late_clients"] = {{{"client", 6}, {"cluster", 2}, {"joined_round", 2}, {"distances", {3.5, 1.25, 0.5}}}};
  clusters["projection"] = json::object();
  for (int i = 0; i < 7; ++i)
    clusters["projection"][std::to_string(i)] = {i % 2 ? 1.0 : -1.0, 0.1 * i};
  write_file(dir / "clusters.json", clusters.dump(2));
  auto summary = json::parse(read_file(dir / "summary.json"));
  summary["final"]["rounds_to_target"] = 2;
  summary["clustering"]["method"] = "kmeans";
  summary["clustering"]["silhouette"] = {{"2", 0.61}, {"3", 0.42}};
  summary["strategy"] = {{"name", "fedprox"}, {"proximal_mu", 0.01}};
  summary["attack"] = {{"clients", {3}}, {"kind", "sign_flip"}};
  summary["faults"] = {{{"client", 5}, {"kind", "crash"}, {"phase", "initial"}, {"round", 2}}};
  summary["elections"] = 1;
  summary["clients"]["6"] = {{"cluster", 2}, {"group", 0}, {"personalized_accuracy", 0.9},
                             {"initial_global_accuracy", -1.0}};
  write_file(dir / "summary.json", summary.dump(2));
}


} // namespace flotilla::test
