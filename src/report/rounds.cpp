// The per-round view of a run: accuracy and loss series, the events marked on them, and the
// timeline of phases and round bars.
#include <algorithm>
#include <map>
#include <sstream>

#include "report/format.hpp"
#include "report/json.hpp"
#include "fl/record_fields.hpp"
#include "report/model.hpp"

namespace flotilla::report {

using json = nlohmann::json;
using namespace report_json;

namespace {

std::string ids_text(const json& ids) {
  std::ostringstream out;
  bool first = true;
  for (const auto& v : ids) {
    out << (first ? "" : ", ") << (v.is_string() ? v.get<std::string>() : v.dump());
    first = false;
  }
  return out.str();
}

std::string series_name(const json& cluster) {
  return cluster.is_null() ? "global model" : "cluster " + cluster.dump();
}

json point_of(const json& line, double x) {
  json p{{"x", x}};
  // Every field the run recorded for the round, under its own name (fl/record_fields.hpp), so the
  // page holds the round as written; objects are no field's type and are left out.
  static const auto fields = fl::round_record_names(); // once, not per round of every run
  for (const auto& key : fields) {
    const auto& v = at(line, key.c_str());
    if (v.is_number() || v.is_boolean() || v.is_string() || v.is_array())
      p[key] = v;
  }
  if (auto a = number(line, "test_accuracy"))
    p["accuracy"] = *a;
  p["aggregated"] = !at(line, "aggregated").is_boolean() || at(line, "aggregated").get<bool>();
  return p;
}

// The weight of a cluster in the overall curve: its training samples, else its size.
std::map<std::int64_t, double> cluster_weights(const json& clusters) {
  std::map<std::int64_t, double> w;
  for (const auto& c : array(clusters, "clusters"))
    if (auto cid = id(at(c, "id"))) {
      auto samples = number(c, "samples");
      w[*cid] = samples && *samples > 0 ? *samples
                                        : std::max<double>(1.0, static_cast<double>(array(c, "members").size()));
    }
  return w;
}

json event(const char* kind, double x, const json& cluster, const std::string& text) {
  return json{{"kind", kind}, {"x", x}, {"cluster", cluster}, {"text", text}};
}

void add_round_events(const json& series, json& events) {
  for (const auto& p : series["points"]) {
    const std::string where = series["label"].get<std::string>() + ", round " + p["round"].dump();
    if (p.value("failures", 0.0) > 0) {
      std::string what = where + ": " + report_format::count(p["failures"].get<double>()) + " failed";
      if (!array(p, "failed").empty())
        what += " (clients " + ids_text(p["failed"]) + ")";
      if (!array(p, "failure_reasons").empty())
        what += ": " + ids_text(p["failure_reasons"]);
      events.push_back(event("failure", p["x"], series["cluster"], what));
    }
    if (!p["aggregated"].get<bool>())
      events.push_back(
        event("quorum", p["x"], series["cluster"], where + ": quorum missed, the previous model was kept"));
  }
}

void add_cluster_events(const run_files& run, double initial, json& events) {
  for (const auto& c : array(run.clusters, "clusters")) {
    const json cid = id(at(c, "id")) ? json(*id(at(c, "id"))) : json(nullptr);
    for (const auto& e : array(c, "elections")) {
      const double round = number(e, "round").value_or(0);
      std::string what = "cluster " + cid.dump() + ", round " + report_format::count(round) + ": server " +
                         ids_text(json::array({at(e, "from")})) + " -> " + ids_text(json::array({at(e, "to")}));
      if (auto term = number(e, "term"))
        what += " (term " + report_format::count(*term) + ")";
      if (auto reason = text(e, "reason"))
        what += ": " + *reason;
      events.push_back(event("election", initial + round, cid, what));
    }
    if (auto created = number(c, "created_round")) {
      std::string what = "cluster " + cid.dump() + " created in round " + report_format::count(*created);
      if (!at(c, "parent").is_null())
        what += " by splitting cluster " + ids_text(json::array({at(c, "parent")}));
      events.push_back(event("split", initial + *created, cid, what));
    }
    if (auto failure = text(c, "failure"))
      events.push_back(event("cluster_failed", initial + number(c, "rounds_done").value_or(0), cid,
                             "cluster " + cid.dump() + " failed: " + *failure));
  }
  for (const auto& late : array(run.clusters, "late_clients")) {
    const double round = number(late, "joined_round").value_or(0);
    const auto& cl = at(late, "cluster");
    std::string what = "client " + ids_text(json::array({at(late, "client")})) + " joined cluster " +
                       ids_text(json::array({cl})) + " in round " + report_format::count(round);
    if (!array(late, "distances").empty()) {
      std::string d;
      for (const auto& x : array(late, "distances"))
        d += (d.empty() ? "" : ", ") + report_format::number(x.is_number() ? std::optional<double>(x.get<double>())
                                                                              : std::nullopt);
      what += " (distance to each cluster: " + d + ")";
    }
    events.push_back(event("late_join", initial + round, id(cl) ? json(*id(cl)) : json(nullptr), what));
  }
}

} // namespace

json rounds_model(const run_files& run) {
  double initial = 0;
  bool any_initial = false;
  for (const auto& line : run.metrics)
    if (at(line, "cluster").is_null() || text(line, "phase") == std::optional<std::string>("initial")) {
      initial = std::max(initial, number(line, "round").value_or(0));
      any_initial = true;
    }
  if (!any_initial)
    initial = number(object(run.config, "rounds"), "initial").value_or(0);

  std::map<std::int64_t, std::vector<json>> per_cluster;
  std::vector<json> global;
  for (const auto& line : run.metrics) {
    const auto cluster = id(at(line, "cluster"));
    const bool initial_phase = !cluster || text(line, "phase") == std::optional<std::string>("initial");
    const double round = number(line, "round").value_or(0);
    auto p = point_of(line, initial_phase ? round : initial + round);
    (cluster ? per_cluster[*cluster] : global).push_back(std::move(p));
  }
  auto by_x = [](const json& a, const json& b) { return a["x"].get<double>() < b["x"].get<double>(); };
  json series = json::array();
  if (!global.empty()) {
    std::stable_sort(global.begin(), global.end(), by_x);
    series.push_back({{"cluster", nullptr}, {"label", series_name(nullptr)}, {"points", global}});
  }
  for (auto& [cid, points] : per_cluster) {
    std::stable_sort(points.begin(), points.end(), by_x);
    series.push_back({{"cluster", cid}, {"label", series_name(cid)}, {"points", points}});
  }

  // Overall: what a client sees on average, so runs can be compared on one curve.
  const auto weights = cluster_weights(run.clusters);
  std::map<double, std::pair<double, double>> sums; // x -> (weighted accuracy, weight)
  for (const auto& s : series)
    for (const auto& p : s["points"]) {
      if (!p.contains("accuracy"))
        continue;
      double w = 1;
      if (!s["cluster"].is_null()) {
        auto it = weights.find(s["cluster"].get<std::int64_t>());
        w = it == weights.end() ? 1.0 : it->second;
      }
      auto& [acc, total] = sums[p["x"].get<double>()];
      acc += w * p["accuracy"].get<double>();
      total += w;
    }
  json overall = json::array();
  for (const auto& [x, s] : sums)
    overall.push_back({{"x", x}, {"accuracy", s.first / s.second}});

  json events = json::array();
  for (const auto& s : series)
    add_round_events(s, events);
  add_cluster_events(run, initial, events);
  if (auto target = number(object(run.summary, "final"), "rounds_to_target")) {
    std::string what = "target accuracy";
    if (auto t = number(object(run.config, "rounds"), "target_accuracy"))
      what += " " + report_format::percent(*t);
    events.push_back(event("target", *target, nullptr,
                           what + " reached after " + report_format::count(*target) + " rounds"));
  }
  std::stable_sort(events.begin(), events.end(), by_x);
  return {{"initial_rounds", initial}, {"series", series}, {"overall", overall}, {"events", events}};
}

json timeline_model(const run_files& run, const json& rounds) {
  const auto& timing = object(run.summary, "timing");
  struct phase_spec {
    const char* key;
    const char* name;
  };
  const phase_spec specs[] = {{"initial_s", "initial rounds"},
                              {"clustering_s", "clustering + selection"},
                              {"cluster_rounds_s", "cluster rounds"},
                              {"evaluation_s", "evaluation"}};
  double sum = 0;
  for (const auto& s : specs)
    sum += number(timing, s.key).value_or(0);
  const auto total = number(timing, "total_s");
  json phases = json::array();
  double t = 0;
  // Loading the data, starting actors and writing outputs are not timed one by one.
  if (total && *total > sum) {
    phases.push_back({{"name", "setup + output"}, {"start", 0}, {"seconds", *total - sum}});
    t = *total - sum;
  }
  std::map<std::string, double> start_of;
  for (const auto& s : specs)
    if (auto v = number(timing, s.key)) {
      start_of[s.key] = t;
      phases.push_back({{"name", s.name}, {"start", t}, {"seconds", *v}});
      t += *v;
    }

  json lanes = json::array();
  std::map<std::int64_t, const json*> lane_points;
  double global_end = start_of.count("initial_s") ? start_of["initial_s"] : 0;
  for (const auto& s : rounds["series"]) {
    if (!s["cluster"].is_null())
      lane_points[s["cluster"].get<std::int64_t>()] = &s["points"];
  }
  auto bars_from = [](const json& points, double start) {
    json bars = json::array();
    for (const auto& p : points) {
      const double secs = p.value("seconds", 0.0);
      bars.push_back({{"start", start}, {"seconds", secs}, {"round", p.value("round", 0.0)},
                      {"failures", p.value("failures", 0.0)}, {"aggregated", p["aggregated"]}});
      start += secs;
    }
    return bars;
  };
  for (const auto& s : rounds["series"])
    if (s["cluster"].is_null()) {
      auto bars = bars_from(s["points"], global_end);
      if (!bars.empty())
        global_end = bars.back()["start"].get<double>() + bars.back()["seconds"].get<double>();
      lanes.push_back({{"label", s["label"]}, {"cluster", nullptr}, {"bars", bars}});
    }
  const double cluster_start =
    start_of.count("cluster_rounds_s") ? start_of["cluster_rounds_s"] : global_end;
  std::map<std::int64_t, json> parent_of, created_of;
  for (const auto& c : array(run.clusters, "clusters"))
    if (auto cid = id(at(c, "id"))) {
      parent_of[*cid] = at(c, "parent");
      created_of[*cid] = at(c, "created_round");
    }
  for (const auto& s : rounds["series"]) {
    if (s["cluster"].is_null())
      continue;
    const auto cid = s["cluster"].get<std::int64_t>();
    double start = cluster_start;
    // A cluster split off mid-run starts when its parent's round of creation ended.
    if (auto parent = id(parent_of[cid]); parent && created_of[cid].is_number() && lane_points.count(*parent))
      for (const auto& p : *lane_points[*parent])
        if (p.value("round", 0.0) <= created_of[cid].get<double>())
          start += p.value("seconds", 0.0);
    lanes.push_back({{"label", s["label"]}, {"cluster", cid}, {"bars", bars_from(s["points"], start)}});
  }
  // Marks: events drawn at the start of their round's bar in their lane.
  // Bars found by (lane, round) through an index: events x lanes x bars was quadratic in rounds.
  json marks = json::array();
  const double initial = rounds["initial_rounds"].get<double>();
  std::multimap<std::pair<std::size_t, double>, const json*> bar_at;
  std::multimap<json, std::size_t> lanes_of;
  for (std::size_t lane = 0; lane < lanes.size(); ++lane) {
    lanes_of.emplace(lanes[lane]["cluster"], lane);
    for (const auto& b : lanes[lane]["bars"])
      bar_at.emplace(std::make_pair(lane, b["round"].get<double>()), &b);
  }
  for (const auto& e : rounds["events"]) {
    const std::string kind = e["kind"];
    if (kind != "election" && kind != "late_join" && kind != "split" && kind != "failure")
      continue;
    const double round = e["x"].get<double>() - (e["cluster"].is_null() ? 0 : initial);
    for (auto [l, l_end] = lanes_of.equal_range(e["cluster"]); l != l_end; ++l)
      for (auto [b, b_end] = bar_at.equal_range({l->second, round}); b != b_end; ++b)
        marks.push_back({{"lane", l->second}, {"t", (*b->second)["start"]}, {"kind", kind}, {"text", e["text"]}});
  }
  return {{"total", total ? json(*total) : json(t)}, {"phases", phases}, {"lanes", lanes}, {"marks", marks}};
}

} // namespace flotilla::report
