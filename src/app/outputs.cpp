#include "app/outputs.hpp"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/config.hpp"
#include "common/sha256.hpp"
#include "fl/adjusted_rand_index.hpp"
#include "fl/resources.hpp"
#include "model/model_file.hpp"

namespace flotilla::app {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

void write_json(const std::string& path, const json& j) {
  std::ofstream out(path);
  if (!out)
    throw config_error("cannot write " + path);
  out << j.dump(2) << '\n';
}

bool has_groups(const std::vector<data::client_partition>& parts) {
  return !parts.empty() && parts.front().group >= 0;
}

double mean_of_known(const std::vector<double>& xs) {
  double sum = 0;
  std::size_t n = 0;
  for (auto x : xs)
    if (x >= 0) {
      sum += x;
      ++n;
    }
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

} // namespace

std::string make_run_dir(const settings& s) {
  std::string dir = s.output.run_dir;
  if (dir.empty()) {
    char stamp[32];
    auto now = std::time(nullptr);
    std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::localtime(&now));
    dir = (fs::path(s.output.dir) / (std::string(stamp) + "-" + s.name)).string();
  }
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "models", ec);
  if (ec)
    throw config_error("cannot create run directory " + dir + ": " + ec.message() +
                       "; set output.dir or output.run_dir to a writable place");
  return dir;
}

json clusters_json(const fl::run_report& r, const std::vector<data::client_partition>& parts) {
  json out;
  out["clusters"] = json::array();
  for (const auto& c : r.clusters) {
    json scores = json::object();
    for (const auto& s : r.scores)
      if (std::find(c.members.begin(), c.members.end(), s.client) != c.members.end())
        scores[std::to_string(s.client)] = {{"cpu", s.cpu},
                                            {"mem", s.mem},
                                            {"score", s.score()},
                                            {"host_cpu", s.host_cpu},
                                            {"host_mem", s.host_mem},
                                            {"own_cpu_seconds", s.own_cpu_seconds},
                                            {"window_seconds", s.window_seconds},
                                            {"own_bytes", s.own_bytes},
                                            {"profiled", s.profiled}};
    json cl{{"id", c.id},
            {"members", c.members},
            {"server", c.server},
            {"aggregator_actor", c.aggregator_actor},
            {"server_actor", c.server < r.client_actors.size() ? r.client_actors[c.server] : 0},
            {"scores", scores},
            {"rounds_done", c.rounds_done},
            {"samples", c.samples},
            {"accuracy", c.accuracy}};
    if (c.failed)
      cl["failure"] = c.failure;
    out["clusters"].push_back(cl);
  }
  out["rule"] = "server = argmin(cpu + mem) per cluster, ties to the lowest id; cpu = host (or profile) CPU% "
                "+ own training CPU share, mem = host (or profile) memory% + own footprint share";
  json groups = json::object();
  if (has_groups(parts))
    for (const auto& p : parts)
      groups[std::to_string(p.id)] = p.group;
  out["true_groups"] = groups;
  json unclustered = json::array();
  for (std::size_t i = 0; i < r.assignment.size(); ++i)
    if (r.assignment[i] == fl::no_cluster)
      unclustered.push_back(i);
  out["unclustered"] = unclustered;
  return out;
}

json summary_json(const settings& s, const fl::run_report& r, const std::vector<data::client_partition>& parts,
                  double total_seconds, std::uint64_t peak_rss) {
  json cluster_acc = json::object();
  for (const auto& c : r.clusters)
    cluster_acc[std::to_string(c.id)] = c.accuracy;
  json per_client = json::object();
  for (std::size_t i = 0; i < r.personalized.size(); ++i) {
    json c{{"cluster", r.assignment[i] == fl::no_cluster ? json(nullptr) : json(r.assignment[i])},
           {"personalized_accuracy", r.personalized[i]},
           {"initial_global_accuracy", i < r.initial_personalized.size() ? r.initial_personalized[i] : -1.0}};
    if (i < parts.size()) {
      c["train_samples"] = parts[i].train.size();
      c["test_samples"] = parts[i].test.size();
      c["label_histogram"] = parts[i].label_histogram;
      if (parts[i].group >= 0)
        c["group"] = parts[i].group;
    }
    per_client[std::to_string(i)] = c;
  }
  json out;
  out["name"] = s.name;
  out["final"] = {{"global_accuracy", r.global_accuracy},
                  {"personalized_accuracy", mean_of_known(r.personalized)},
                  {"initial_global_personalized_accuracy", mean_of_known(r.initial_personalized)},
                  {"initial_global_accuracy", r.initial_global_accuracy},
                  {"cluster_accuracy", cluster_acc},
                  {"global_model_sha256", sha256_hex(r.global_model.data(), r.global_model.size() * sizeof(float))}};
  out["clients"] = per_client;
  json clustering{{"k", r.clusters.size()}, {"assignment", json::array()}};
  for (auto a : r.assignment)
    clustering["assignment"].push_back(a == fl::no_cluster ? json(nullptr) : json(a));
  if (has_groups(parts)) {
    std::vector<std::int64_t> truth, found;
    for (const auto& p : parts)
      if (r.assignment[p.id] != fl::no_cluster) {
        truth.push_back(p.group);
        found.push_back(r.assignment[p.id]);
      }
    clustering["adjusted_rand_index"] = fl::adjusted_rand_index(truth, found);
  }
  out["clustering"] = clustering;
  out["timing"] = {{"total_s", total_seconds},
                   {"initial_s", r.initial_seconds},
                   {"clustering_s", r.clustering_seconds},
                   {"cluster_rounds_s", r.cluster_seconds},
                   {"evaluation_s", r.evaluation_seconds},
                   {"samples_trained", r.samples_trained},
                   {"samples_evaluated", r.samples_evaluated},
                   {"samples_per_s", total_seconds > 0 ? static_cast<double>(r.samples_trained) / total_seconds : 0.0},
                   {"weight_bytes_moved", r.bytes_moved},
                   {"peak_rss_bytes", peak_rss}};
  out["warnings"] = r.warnings;
  return out;
}

json write_outputs(const std::string& dir, const settings& s, const fl::run_report& r,
                   const std::vector<data::client_partition>& parts, double total_seconds) {
  write_json((fs::path(dir) / "clusters.json").string(), clusters_json(r, parts));
  auto summary = summary_json(s, r, parts, total_seconds, fl::peak_rss_bytes());
  write_json((fs::path(dir) / "summary.json").string(), summary);
  if (!s.output.save_models)
    return summary;
  auto models = fs::path(dir) / "models";
  model::save_model(s.model, r.global_model, (models / "global.pt").string());
  model::save_model(s.model, r.initial_global, (models / "initial_global.pt").string());
  for (const auto& c : r.clusters)
    model::save_model(s.model, c.model, (models / ("cluster_" + std::to_string(c.id) + ".pt")).string());
  return summary;
}

std::string summary_table(const json& summary, const fl::run_report& r) {
  std::ostringstream out;
  char buf[256];
  const auto& t = summary["timing"];
  const auto& f = summary["final"];
  out << "\n  phase / model              clients   accuracy      time\n";
  out << "  -------------------------  -------  ---------  --------\n";
  std::snprintf(buf, sizeof(buf), "  initial (global, test)     %7zu  %8.2f%%  %7.1fs\n", r.assignment.size(),
                100 * r.initial_global_accuracy, t["initial_s"].get<double>());
  out << buf;
  std::snprintf(buf, sizeof(buf), "  clustering + selection     %7s  %9s  %7.1fs\n", "", "",
                t["clustering_s"].get<double>());
  out << buf;
  for (const auto& c : r.clusters) {
    std::snprintf(buf, sizeof(buf), "  cluster %-3u (server %4u)  %7zu  %8.2f%%  %7s%s\n", c.id, c.server,
                  c.members.size(), 100 * c.accuracy, "", c.failed ? "  FAILED" : "");
    out << buf;
  }
  std::snprintf(buf, sizeof(buf), "  cluster rounds (all)       %7s  %9s  %7.1fs\n", "", "",
                t["cluster_rounds_s"].get<double>());
  out << buf;
  std::snprintf(buf, sizeof(buf), "  global (test set)          %7s  %8.2f%%  %7.1fs\n", "",
                100 * f["global_accuracy"].get<double>(), t["evaluation_s"].get<double>());
  out << buf;
  std::snprintf(buf, sizeof(buf), "  personalized (local, mean) %7s  %8.2f%%   (initial global: %.2f%%)\n", "",
                100 * f["personalized_accuracy"].get<double>(),
                100 * f["initial_global_personalized_accuracy"].get<double>());
  out << buf;
  if (summary["clustering"].contains("adjusted_rand_index")) {
    std::snprintf(buf, sizeof(buf), "  clusters vs true groups: adjusted Rand index %.3f\n",
                  summary["clustering"]["adjusted_rand_index"].get<double>());
    out << buf;
  }
  std::snprintf(buf, sizeof(buf), "  total %.1fs, %.0f training samples/s, peak RSS %.0f MiB\n",
                t["total_s"].get<double>(), t["samples_per_s"].get<double>(),
                static_cast<double>(t["peak_rss_bytes"].get<std::uint64_t>()) / (1 << 20));
  out << buf;
  return out.str();
}

} // namespace flotilla::app
