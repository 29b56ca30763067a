#include "app/outputs.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/record_json.hpp"
#include "common/atomic_file.hpp"
#include "common/sha256.hpp"
#include "fl/adjusted_rand_index.hpp"
#include "fl/resources.hpp"
#include "fl/strategy.hpp"
#include "model/model_file.hpp"

namespace flotilla::app {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

void write_json(const std::string& path, const json& j) {
  write_file_atomically(path, j.dump(2) + "\n");
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

bool lists_clients(std::size_t clients) {
  return clients <= listed_clients_limit;
}

json clusters_json(const fl::run_report& r, const std::vector<data::client_partition>& parts) {
  json out;
  out["clusters"] = json::array();
  for (const auto& c : r.clusters) {
    json scores = json::object();
    for (const auto& s : r.scores)
      if (std::find(c.members.begin(), c.members.end(), s.client) != c.members.end()) {
        json row = s;
        row["score"] = s.score();
        scores[std::to_string(s.client)] = row;
      }
    json cl = c; // its field list (fl/record_fields.hpp), then what the outputs add
    cl["server_actor"] = c.server < r.client_actors.size() ? r.client_actors[c.server] : 0;
    cl["scores"] = scores;
    out["clusters"].push_back(cl);
  }
  out["rule"] = "server = argmin(cpu + mem) per cluster, ties to the lowest id; cpu = host (or profile) CPU% "
                "+ own training CPU share, mem = host (or profile) memory% + own footprint share";
  // A fleet beyond listed_clients_limit is not listed client by client (lists_clients).
  const bool listed = lists_clients(std::max(parts.size(), r.assignment.size()));
  json groups = json::object();
  if (listed && has_groups(parts))
    for (const auto& p : parts)
      groups[std::to_string(p.id)] = p.group;
  out["true_groups"] = groups;
  // partition.scheme=natural: which natural client of the data each client number is.
  json natural = json::object();
  for (const auto& p : parts)
    if (listed && !p.natural_id.empty())
      natural[std::to_string(p.id)] = p.natural_id;
  out["natural_ids"] = natural;
  json unclustered = json::array();
  for (std::size_t i = 0; listed && i < r.assignment.size(); ++i)
    if (r.assignment[i] == fl::no_cluster)
      unclustered.push_back(i);
  out["unclustered"] = unclustered;
  json projection = json::object();
  for (const auto& [id, xy] : r.projection)
    projection[std::to_string(id)] = {xy[0], xy[1]};
  out["projection"] = projection;
  out["late_clients"] = r.late_joins;
  return out;
}

json summary_json(const config::settings& s, const fl::run_report& r, const std::vector<data::client_partition>& parts,
                  double total_seconds, std::uint64_t peak_rss) {
  // The record sections come from their field lists (fl/record_fields.hpp via record_json.hpp).
  json per_client = json::object();
  const bool listed = lists_clients(std::max(parts.size(), r.personalized.size()));
  // The fleet (clock=virtual): every process draws it from the seed, or reads the same file.
  std::vector<fl::device> devices;
  if (s.experiment.virtual_clock && listed)
    devices = fl::make_devices(s.experiment.devices, s.experiment.seed, s.experiment.total_clients());
  for (std::size_t i = 0; listed && i < r.personalized.size(); ++i) {
    fl::summary_client c;
    c.cluster = r.assignment[i] == fl::no_cluster ? -1 : static_cast<std::int64_t>(r.assignment[i]);
    c.personalized_accuracy = r.personalized[i];
    c.initial_global_accuracy = i < r.initial_personalized.size() ? r.initial_personalized[i] : -1.0;
    if (i < parts.size()) {
      c.train_samples = parts[i].train_size();
      c.test_samples = parts[i].test_size();
      c.label_histogram = parts[i].label_histogram;
      c.group = parts[i].group;
    }
    if (i < devices.size()) {
      c.ms_per_sample = devices[i].ms_per_sample;
      c.kbps = devices[i].kbps;
    }
    per_client[std::to_string(i)] = c;
  }
  fl::summary_final fin;
  fin.global_accuracy = r.global_accuracy;
  fin.personalized_accuracy = mean_of_known(r.personalized);
  fin.initial_global_personalized_accuracy = mean_of_known(r.initial_personalized);
  fin.initial_global_accuracy = r.initial_global_accuracy;
  for (const auto& c : r.clusters)
    fin.cluster_accuracy[std::to_string(c.id)] = c.accuracy;
  fin.global_model_sha256 = sha256_hex(r.global_model.data(), r.global_model.size() * sizeof(float));
  fin.rounds_to_target = r.rounds_to_target < 0 ? -1 : static_cast<std::int64_t>(r.rounds_to_target);
  fin.sim_time_s = r.sim_time_s;
  fin.sim_time_to_target_s = r.sim_time_to_target_s;
  fin.epsilon = r.epsilon;
  json out;
  out["name"] = s.name;
  out["final"] = fin;
  const auto& st = s.experiment.strategy;
  // The subtree as the run used it: the name and every knob (counts as integers, as configured).
  json strategy{{"name", st.name}};
  for (const auto& [key, value] : st.knobs) {
    const auto* spec = fl::find_knob(key);
    strategy[key] = spec && spec->integer ? json(static_cast<std::int64_t>(value)) : json(value);
  }
  out["strategy"] = strategy;
  const auto& at = s.experiment.attack;
  out["attack"] = at.clients.empty() ? json(nullptr)
                                     : json{{"clients", at.clients}, {"kind", at.kind}, {"scale", at.scale}};
  out["clients"] = per_client;
  std::size_t elections = 0;
  for (const auto& c : r.clusters)
    elections += c.elections.size();
  json silhouette = json::object();
  for (const auto& [k, score] : r.silhouette)
    silhouette[std::to_string(k)] = score;
  json clustering{{"method", r.clustering_method},
                  {"k", r.k},
                  {"k_requested", s.experiment.clustering.k == 0 ? json("auto") : json(s.experiment.clustering.k)},
                  {"clusters_at_end", r.clusters.size()},
                  {"silhouette", silhouette},
                  {"assignment", json::array()}};
  out["elections"] = elections;
  out["late_clients"] = r.late_joins;
  out["faults"] = json(r.faults);
  for (std::size_t i = 0; listed && i < r.assignment.size(); ++i)
    clustering["assignment"].push_back(r.assignment[i] == fl::no_cluster ? json(nullptr) : json(r.assignment[i]));
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
  fl::summary_timing timing;
  timing.total_s = total_seconds;
  timing.initial_s = r.initial_seconds;
  timing.clustering_s = r.clustering_seconds;
  timing.cluster_rounds_s = r.cluster_seconds;
  timing.cluster_wait_s = r.cluster_wait_seconds;
  timing.evaluation_s = r.evaluation_seconds;
  timing.samples_trained = r.samples_trained;
  timing.samples_evaluated = r.samples_evaluated;
  timing.samples_per_s = total_seconds > 0 ? static_cast<double>(r.samples_trained) / total_seconds : 0.0;
  timing.weight_bytes_moved = r.bytes_moved;
  timing.peak_rss_bytes = peak_rss;
  out["timing"] = timing;
  out["warnings"] = r.warnings;
  if (!listed)
    out["warnings"].push_back("summary.json and clusters.json list no client one by one: the run registered " +
                              std::to_string(std::max(parts.size(), r.personalized.size())) + " clients, more than " +
                              std::to_string(listed_clients_limit) + " (metrics.jsonl has every round)");
  return out;
}

json write_outputs(const std::string& dir, const config::settings& s, const model::model_choice& model,
                   const fl::run_report& r, const std::vector<data::client_partition>& parts, double total_seconds) {
  write_json((fs::path(dir) / "clusters.json").string(), clusters_json(r, parts));
  auto summary = summary_json(s, r, parts, total_seconds, fl::peak_rss_bytes());
  write_json((fs::path(dir) / "summary.json").string(), summary);
  if (!s.output.save_models)
    return summary;
  auto models = fs::path(dir) / "models";
  model::save_model(model, r.global_model, (models / "global.pt").string());
  model::save_model(model, r.initial_global, (models / "initial_global.pt").string());
  for (const auto& c : r.clusters)
    model::save_model(model, c.model, (models / ("cluster_" + std::to_string(c.id) + ".pt")).string());
  return summary;
}

} // namespace flotilla::app
