// The per-client view of a run: accuracies, clusters against true groups, the PCA projection
// and the server selection.
#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "report/report_error.hpp"
#include "report/json.hpp"
#include "report/model.hpp"
#include "fl/adjusted_rand_index.hpp"

namespace flotilla::report {

using json = nlohmann::json;
using namespace report_json;

namespace {

// The most cells the clusters x true groups table may have (1,000 x 1,000).
constexpr std::size_t report_max_contingency_cells = 1'000'000;

// Final cluster per client: summary clients (null = unclustered), else the K-means
// assignment, else cluster membership.
std::map<std::int64_t, std::optional<std::int64_t>> cluster_by_client(const run_files& run) {
  std::map<std::int64_t, std::optional<std::int64_t>> out;
  for (const auto& c : array(run.clusters, "clusters"))
    if (auto cid = id(at(c, "id")))
      for (const auto& m : array(c, "members"))
        if (auto client = id(m))
          out[*client] = *cid;
  const auto& assignment = array(object(run.summary, "clustering"), "assignment");
  for (std::size_t i = 0; i < assignment.size(); ++i)
    out[static_cast<std::int64_t>(i)] = id(assignment[i]);
  for (const auto& [key, c] : object(run.summary, "clients").items()) {
    auto client = id(json(key));
    if (client && c.is_object() && c.contains("cluster"))
      out[*client] = id(c["cluster"]);
  }
  return out;
}

std::map<std::int64_t, std::int64_t> group_by_client(const run_files& run) {
  std::map<std::int64_t, std::int64_t> out;
  for (const auto& [key, g] : object(run.summary, "clients").items())
    if (auto client = id(json(key)); client && id(at(g, "group")))
      out[*client] = *id(at(g, "group"));
  for (const auto& [key, g] : object(run.clusters, "true_groups").items())
    if (auto client = id(json(key)); client && id(g))
      out[*client] = *id(g);
  return out;
}

std::set<std::int64_t> ids_in(const json& list, const char* key = nullptr) {
  std::set<std::int64_t> out;
  for (const auto& v : list)
    if (auto x = id(key ? at(v, key) : v))
      out.insert(*x);
  return out;
}

std::set<std::int64_t> servers_of(const run_files& run) {
  return ids_in(array(run.clusters, "clusters"), "server");
}

std::set<std::int64_t> attackers_of(const run_files& run) {
  auto from_summary = ids_in(array(object(run.summary, "attack"), "clients"));
  return from_summary.empty() ? ids_in(array(object(run.config, "attack"), "clients")) : from_summary;
}

json optional_id(const std::optional<std::int64_t>& x) {
  return x ? json(*x) : json(nullptr);
}

json accuracy(const json& j, const char* key) {
  auto v = number(j, key);
  return v && *v >= 0 ? json(*v) : json(nullptr);
}

} // namespace

json clients_model(const run_files& run) {
  const auto clusters = cluster_by_client(run);
  const auto groups = group_by_client(run);
  const auto servers = servers_of(run);
  const auto attackers = attackers_of(run);
  const auto late = ids_in(array(run.clusters, "late_clients"), "client");
  std::set<std::int64_t> all;
  for (const auto& [client, c] : clusters)
    all.insert(client);
  for (const auto& [key, c] : object(run.summary, "clients").items())
    if (auto client = id(json(key)))
      all.insert(*client);
  json out = json::array();
  for (auto client : all) {
    const auto& s = at(object(run.summary, "clients"), std::to_string(client).c_str());
    auto c = clusters.find(client);
    auto g = groups.find(client);
    json row{{"id", client},
             {"cluster", c == clusters.end() ? json(nullptr) : optional_id(c->second)},
             {"group", g == groups.end() ? json(nullptr) : json(g->second)},
             {"personalized", accuracy(s, "personalized_accuracy")},
             {"initial", accuracy(s, "initial_global_accuracy")},
             {"server", servers.count(client) > 0},
             {"late", late.count(client) > 0},
             {"attacker", attackers.count(client) > 0}};
    for (const char* key : {"train_samples", "test_samples", "ms_per_sample", "kbps"})
      if (auto v = number(s, key))
        row[key] = *v;
    out.push_back(row);
  }
  return out;
}

json contingency_model(const run_files& run) {
  const auto groups = group_by_client(run);
  if (groups.empty())
    return nullptr;
  const auto clusters = cluster_by_client(run);
  std::set<std::int64_t> group_ids;
  std::set<std::optional<std::int64_t>> cluster_ids;
  for (const auto& [client, g] : groups) {
    group_ids.insert(g);
    auto c = clusters.find(client);
    cluster_ids.insert(c == clusters.end() ? std::nullopt : c->second);
  }
  // std::nullopt sorts first; the unclustered row reads better last.
  std::vector<std::optional<std::int64_t>> rows(cluster_ids.begin(), cluster_ids.end());
  if (!rows.empty() && !rows.front())
    std::rotate(rows.begin(), rows.begin() + 1, rows.end());
  std::vector<std::int64_t> cols(group_ids.begin(), group_ids.end());
  // The table is clusters x groups: drawn and held whole, so it is bounded, not the clients.
  if (static_cast<double>(rows.size()) * static_cast<double>(cols.size()) > report_max_contingency_cells)
    throw report_error(run.dir + ": its clients fall into " + std::to_string(rows.size()) + " clusters and " +
                       std::to_string(cols.size()) + " true groups, a table of more than " +
                       std::to_string(report_max_contingency_cells) +
                       " cells (clusters.json and summary.json); no run has that many, the files are damaged: "
                       "restore them or rerun the run");
  std::vector<std::vector<int>> counts(rows.size(), std::vector<int>(cols.size(), 0));
  std::vector<std::int64_t> truth, found;
  for (const auto& [client, g] : groups) {
    auto c = clusters.find(client);
    const std::optional<std::int64_t> cl = c == clusters.end() ? std::nullopt : c->second;
    // Binary searches: a linear find per client was clients x clusters.
    const auto r = !cl ? static_cast<std::ptrdiff_t>(rows.size()) - 1
                       : std::lower_bound(rows.begin(), rows.end() - (rows.back() ? 0 : 1), cl) - rows.begin();
    const auto k = std::lower_bound(cols.begin(), cols.end(), g) - cols.begin();
    ++counts[r][k];
    if (cl) {
      truth.push_back(g);
      found.push_back(*cl);
    }
  }
  int matched = 0, total = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    total += std::accumulate(counts[r].begin(), counts[r].end(), 0);
    if (rows[r])
      matched += *std::max_element(counts[r].begin(), counts[r].end());
  }
  json row_ids = json::array();
  for (const auto& r : rows)
    row_ids.push_back(optional_id(r));
  json out{{"clusters", row_ids}, {"groups", cols}, {"counts", counts},
           {"purity", total > 0 ? static_cast<double>(matched) / total : 0.0}};
  if (auto ari = number(object(run.summary, "clustering"), "adjusted_rand_index")) {
    out["ari"] = *ari;
    out["ari_source"] = "summary.json";
  } else if (!truth.empty()) {
    out["ari"] = fl::adjusted_rand_index(truth, found);
    out["ari_source"] = "computed by the report";
  }
  return out;
}

json projection_model(const run_files& run) {
  const auto& projection = object(run.clusters, "projection");
  if (projection.empty())
    return nullptr;
  const auto clusters = cluster_by_client(run);
  const auto groups = group_by_client(run);
  const auto servers = servers_of(run);
  const auto late = ids_in(array(run.clusters, "late_clients"), "client");
  std::map<std::int64_t, json> points;
  for (const auto& [key, xy] : projection.items()) {
    auto client = id(json(key));
    if (!client || !xy.is_array() || xy.size() < 2 || !xy[0].is_number() || !xy[1].is_number())
      continue;
    auto c = clusters.find(*client);
    auto g = groups.find(*client);
    points[*client] = {{"client", *client},
                       {"x", xy[0]},
                       {"y", xy[1]},
                       {"cluster", c == clusters.end() ? json(nullptr) : optional_id(c->second)},
                       {"group", g == groups.end() ? json(nullptr) : json(g->second)},
                       {"server", servers.count(*client) > 0},
                       {"late", late.count(*client) > 0}};
  }
  json out = json::array();
  for (auto& [client, p] : points)
    out.push_back(std::move(p));
  return out.empty() ? json(nullptr) : out;
}

json selection_model(const run_files& run) {
  json clusters = json::array();
  for (const auto& c : array(run.clusters, "clusters")) {
    const auto server = id(at(c, "server"));
    json members = json::array();
    for (const auto& [key, s] : object(c, "scores").items()) {
      auto client = id(json(key));
      if (!client)
        continue;
      json row{{"client", *client}, {"chosen", server && *server == *client}};
      for (const char* k : {"cpu", "mem", "score", "host_cpu", "host_mem", "own_cpu_seconds", "own_bytes"})
        if (auto v = number(s, k))
          row[k] = *v;
      if (!row.contains("score") && row.contains("cpu") && row.contains("mem"))
        row["score"] = row["cpu"].get<double>() + row["mem"].get<double>();
      row["profiled"] = at(s, "profiled").is_boolean() && at(s, "profiled").get<bool>();
      members.push_back(row);
    }
    // Lowest score first: the rule picks the top row (ties to the lowest id).
    std::stable_sort(members.begin(), members.end(), [](const json& a, const json& b) {
      const double sa = a.value("score", 1e300), sb = b.value("score", 1e300);
      return sa != sb ? sa < sb : a["client"].get<std::int64_t>() < b["client"].get<std::int64_t>();
    });
    json row{{"cluster", optional_id(id(at(c, "id")))},
             {"server", optional_id(server)},
             {"members", members},
             {"elections", array(c, "elections").size()}};
    if (auto failure = text(c, "failure"))
      row["failure"] = *failure;
    clusters.push_back(row);
  }
  return {{"rule", text(run.clusters, "rule").value_or("")}, {"clusters", clusters}};
}

} // namespace flotilla::report
