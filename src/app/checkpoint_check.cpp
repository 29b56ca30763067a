#include "app/checkpoint_check.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <set>

#include "app/checkpoint_file.hpp"
#include "config/config.hpp"
#include "fl/cluster_methods.hpp"
#include "fl/privacy/dp_clip.hpp"
#include "fl/privacy/rdp_accountant.hpp"
#include "fl/strategy.hpp"
#include "model/model_spec.hpp"

namespace flotilla::app {

namespace {

using std::to_string;

[[noreturn]] void refuse(const std::string& field, const std::string& value, const std::string& why) {
  throw checkpoint_error(field + " = " + value + ": " + why);
}

// privacy.adaptive_clip's clip norm to continue from: 0 (not moved) or positive and finite, and
// only under adaptive clipping.
void check_dp_clip(const std::string& field, double clip, const fl::privacy_options& p) {
  if (clip == 0)
    return;
  if (!p.adaptive_clip)
    refuse(field, to_string(clip), "only privacy.adaptive_clip moves the clip norm, and it is off");
  if (!(clip >= fl::privacy::min_clip && clip <= fl::privacy::max_clip))
    refuse(field, to_string(clip), "a clip norm is from 1e-06 to 1e+06 (privacy.clip's range, which adaptive clipping "
                                   "keeps to)");
}

std::string quoted(const std::string& text) {
  return config::describe(nlohmann::json(text)); // invalid UTF-8 and length are taken care of
}

std::string at(const std::string& field, std::size_t i) {
  return field + "[" + to_string(i) + "]";
}

// What every check needs: the run's limits, computed once.
struct limits {
  const fl::checkpoint& cp;
  const config::settings& s;
  std::size_t parameters;
  std::uint32_t total;        // every client id is below this (late clients included)
  std::size_t max_clusters;   // clusters the configured method can make

  std::string clients_range() const { return "not a client of this run (0 to " + to_string(total - 1) + ")"; }

  void client(const std::string& field, std::uint64_t id) const {
    if (id >= total)
      refuse(field, to_string(id), clients_range());
  }

  // -1 (none) or a client id.
  void optional_client(const std::string& field, std::int64_t id) const {
    if (id < -1 || (id >= 0 && static_cast<std::uint64_t>(id) >= total))
      refuse(field, to_string(id), "neither -1 (none) nor a client of this run (0 to " + to_string(total - 1) + ")");
  }

  void model(const std::string& field, const std::vector<float>& w) const {
    if (w.size() != parameters)
      refuse(field, to_string(w.size()) + " values",
             "the model (" + s.model.name + ") has " + to_string(parameters) + " weights");
    for (std::size_t i = 0; i < w.size(); ++i)
      if (!std::isfinite(w[i]))
        refuse(at(field, i), std::to_string(w[i]), "not finite (aggregation never produces one)");
  }

  void state(const std::string& field, const fl::strategy_state& st, std::uint64_t max_steps,
             const std::string& steps_why) const {
    try {
      fl::make_strategy(s.experiment.strategy)->restore(st, parameters);
    } catch (const fl::strategy_error& e) {
      refuse(field, quoted(st.strategy) + " with " + to_string(st.buffers.size()) + " buffers", e.what());
    }
    if (st.steps > max_steps)
      refuse(field + ".steps", to_string(st.steps), steps_why);
  }
};

void check_common(const limits& l) {
  const auto& cp = l.cp;
  const auto& ex = l.s.experiment;
  if (cp.phase != "initial" && cp.phase != "cluster")
    refuse("phase", quoted(cp.phase), "neither \"initial\" nor \"cluster\"");
  bool plain = fl::plain_fl(ex.clustering.method);
  if (cp.phase == "initial" && plain) {
    // Plain FL: every round is a checkpoint, the last one included (then comes the evaluation).
    if (cp.round < 1 || cp.round > ex.rounds.initial)
      refuse("round", to_string(cp.round),
             "an initial checkpoint holds rounds 1 to " + to_string(ex.rounds.initial) + " (rounds.initial)");
  } else if (cp.phase == "cluster" && plain) {
    refuse("phase", quoted(cp.phase), "clustering.method=none runs no cluster phase");
  } else if (cp.phase == "initial") {
    // The last initial round is followed by clustering and the next checkpoint is a cluster one.
    if (ex.rounds.initial < 2)
      refuse("phase", quoted(cp.phase),
             "a run with rounds.initial = 1 writes no initial checkpoint (its first is after clustering)");
    if (cp.round < 1 || cp.round >= ex.rounds.initial)
      refuse("round", to_string(cp.round),
             "an initial checkpoint holds rounds 1 to " + to_string(ex.rounds.initial - 1) +
               " (rounds.initial = " + to_string(ex.rounds.initial) + "; the last one is followed by clustering)");
  } else if (cp.round > ex.rounds.cluster) {
    refuse("round", to_string(cp.round),
           "a cluster checkpoint holds rounds 0 to " + to_string(ex.rounds.cluster) + " (rounds.cluster)");
  }
  l.model("global", cp.global);
  // The coordinator's own strategy aggregates only the initial rounds.
  l.state("strategy", cp.strategy, ex.rounds.initial, "more aggregations than initial rounds (rounds.initial = " +
                                                        to_string(ex.rounds.initial) + ")");
  if (cp.samples_of.size() != l.total)
    refuse("samples_of", to_string(cp.samples_of.size()) + " entries",
           "the run has " + to_string(l.total) + " clients (clients + late_clients)");
  // A client's samples are its share of the training set; the configuration bounds the set.
  const std::uint64_t images = l.s.data.train_limit > 0 ? l.s.data.train_limit : 100000000; // train_limit's maximum
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < cp.samples_of.size(); ++i) {
    if (cp.samples_of[i] > images || (sum += cp.samples_of[i]) > images)
      refuse(at("samples_of", i), to_string(cp.samples_of[i]),
             "the clients' samples add up to more than the " + to_string(images) + " training images " +
               (l.s.data.train_limit > 0 ? "of data.train_limit" : "any dataset has"));
  }
  for (auto id : cp.lost_early)
    l.client("lost_early", id);
}

void check_initial_phase(const limits& l) {
  const auto& cp = l.cp;
  // Clustering has not happened: nothing of the cluster phase may be there.
  if (!cp.clusters.empty())
    refuse("clusters", to_string(cp.clusters.size()) + " clusters", "an initial checkpoint has none");
  if (!cp.clients.empty())
    refuse("clients", to_string(cp.clients.size()) + " records", "an initial checkpoint has none");
  if (cp.selected)
    refuse("selected", "true", "an initial checkpoint comes before server selection");
  if (cp.late_joined)
    refuse("late_joined", "true", "late clients join in the cluster phase");
  if (!cp.report.initial_global.empty())
    refuse("report.initial_global", to_string(cp.report.initial_global.size()) + " values",
           "it is set when the initial phase ends");
  if (!cp.report.initial_personalized.empty())
    refuse("report.initial_personalized", to_string(cp.report.initial_personalized.size()) + " values",
           "it is set when the initial phase ends");
  if (!cp.report.late_joins.empty())
    refuse("report.late_joins", to_string(cp.report.late_joins.size()) + " records",
           "late clients join in the cluster phase");
  if (!cp.report.clusters.empty())
    refuse("report.clusters", to_string(cp.report.clusters.size()) + " records", "an initial checkpoint has none");
}

// The asynchronous steps' fits in flight: clients of the run, each once, sent a version the
// checkpoint holds, no later than its step, finishing no earlier than its time; no more of them
// than strategy.concurrency. Any other checkpoint has none.
void check_flights(const limits& l) {
  const auto& cp = l.cp;
  const auto& ex = l.s.experiment;
  bool steps = ex.async.asynchronous() && cp.phase == "initial";
  if (!steps && (!cp.flights.empty() || !cp.versions.empty()))
    refuse("async.flights", to_string(cp.flights.size()) + " fits",
           "only the asynchronous steps of the initial phase have fits in flight (strategy.mode = " + ex.async.mode + ")");
  if (cp.flights.size() > ex.async.concurrency)
    refuse("async.flights", to_string(cp.flights.size()) + " fits",
           "more than strategy.concurrency = " + to_string(ex.async.concurrency));
  std::set<std::uint32_t> seen;
  for (std::size_t i = 0; i < cp.flights.size(); ++i) {
    const auto& f = cp.flights[i];
    auto field = at("async.flights", i);
    l.client(field + ".client", f.client);
    if (f.client >= ex.clients)
      refuse(field + ".client", to_string(f.client), "a late client does not train in the initial phase");
    if (!seen.insert(f.client).second)
      refuse(field + ".client", to_string(f.client), "in flight twice");
    if (f.version > cp.round || !cp.versions.count(f.version))
      refuse(field + ".version", to_string(f.version),
             "not a model version the checkpoint holds (0 to its step " + to_string(cp.round) + ")");
    // Under the wall clock `done` is when it was sent; under the virtual clock its completion.
    if (!std::isfinite(f.done) || (ex.virtual_clock && f.done < cp.report.sim_time_s))
      refuse(field + ".done", std::to_string(f.done),
             "not a simulated time at or after the checkpoint's (" + std::to_string(cp.report.sim_time_s) + ")");
  }
  for (const auto& [v, w] : cp.versions) {
    if (v > cp.round)
      refuse("async.versions", to_string(v), "after the checkpoint's step " + to_string(cp.round));
    l.model("async.version." + to_string(v), w);
  }
}

void check_cluster(const limits& l, std::size_t i) {
  const auto& cp = l.cp;
  const auto& ex = l.s.experiment;
  const auto& c = cp.clusters[i];
  auto field = at("clusters", i);
  if (c.id != i)
    refuse(field + ".id", to_string(c.id), "clusters are numbered 0, 1, ... in order");
  for (std::size_t m = 0; m < c.members.size(); ++m) {
    auto name = at(field + ".members", m);
    l.client(name, c.members[m]);
    if (m > 0 && c.members[m] <= c.members[m - 1])
      refuse(name, to_string(c.members[m]), "members are listed once each, ascending");
    auto it = cp.clients.find(c.members[m]);
    if (it == cp.clients.end() || it->second.lost || it->second.cluster != c.id)
      refuse(name, to_string(c.members[m]), "clients[" + to_string(c.members[m]) + "] is not a live client of cluster " +
                                              to_string(i));
  }
  if (c.server) {
    l.client(field + ".server", *c.server);
    if (!std::binary_search(c.members.begin(), c.members.end(), *c.server))
      refuse(field + ".server", to_string(*c.server), "not a member of the cluster");
  }
  l.optional_client(field + ".last_server", c.last_server);
  if (!c.model)
    refuse(field + ".model", "none", "every cluster starts with a model");
  l.model(field + ".model", *c.model);
  l.state(field + ".state", c.state, ex.rounds.cluster,
          "more aggregations than cluster rounds (rounds.cluster = " + to_string(ex.rounds.cluster) + ")");
  // Clusters run their rounds on their own: each is at or past the checkpoint's round (what every
  // live cluster has done), none past the last.
  if (c.rounds_done > ex.rounds.cluster || (!c.failed && c.rounds_done < cp.round))
    refuse(field + ".rounds_done", to_string(c.rounds_done),
           "not from the checkpoint's round " + to_string(cp.round) + " to rounds.cluster = " +
             to_string(ex.rounds.cluster));
  if (!ex.async.asynchronous() && !c.async.flights.empty())
    refuse(field + ".async.flights", to_string(c.async.flights.size()) + " fits",
           "only asynchronous cluster steps have fits in flight (strategy.mode = " + ex.async.mode + ")");
  if (auto why = fl::check_async_state(c.async, c.rounds_done, ex.async.concurrency, l.parameters, l.total);
      !why.empty())
    refuse(field + ".async", to_string(c.async.flights.size()) + " fits in flight", why);
  if (!c.privacy_rdp.empty()) {
    if (!ex.privacy.on())
      refuse(field + ".privacy_rdp", to_string(c.privacy_rdp.size()) + " values", "the run has privacy.dp=off");
    if (auto why = fl::privacy::check_rdp_state(c.privacy_rdp, fl::privacy::default_orders().size()); !why.empty())
      refuse(field + ".privacy_rdp", to_string(c.privacy_rdp.size()) + " values", why);
  }
  check_dp_clip(field + ".dp_clip", c.dp_clip, ex.privacy);
  if (c.created_round > c.rounds_done)
    refuse(field + ".created_round", to_string(c.created_round), "after the cluster's own rounds (" +
                                                                   to_string(c.rounds_done) + ")");
  if (c.parent < -1 || c.parent >= static_cast<std::int64_t>(i))
    refuse(field + ".parent", to_string(c.parent), "neither -1 (none) nor an earlier cluster (a split adds clusters last)");
  // Term 1 is the first server, each election adds one; a CFL split's cluster starts by election.
  auto n = c.elections.size();
  if (c.term < n || c.term > n + 1)
    refuse(field + ".term", to_string(c.term), to_string(n) + " elections make term " + to_string(n) + " or " +
                                                 to_string(n + 1));
  for (std::size_t e = 0; e < n; ++e) {
    const auto& x = c.elections[e];
    auto name = at(field + ".elections", e);
    l.client(name + ".to", x.to);
    l.optional_client(name + ".from", x.from);
    if (x.round > ex.rounds.cluster)
      refuse(name + ".round", to_string(x.round), "after the last cluster round (rounds.cluster = " +
                                                    to_string(ex.rounds.cluster) + ")");
    if (x.term < 1 || x.term > c.term)
      refuse(name + ".term", to_string(x.term), "not 1 to the cluster's term " + to_string(c.term));
  }
}

void check_cluster_phase(const limits& l) {
  const auto& cp = l.cp;
  const auto& ex = l.s.experiment;
  if (!cp.selected)
    refuse("selected", "false", "a cluster checkpoint comes after server selection");
  if (cp.clusters.empty() || cp.clusters.size() > l.max_clusters)
    refuse("clusters", to_string(cp.clusters.size()) + " clusters",
           "clustering.method=" + ex.clustering.method + " makes 1 to " + to_string(l.max_clusters) + " here");
  for (std::size_t i = 0; i < cp.clusters.size(); ++i)
    check_cluster(l, i);
  // The checkpoint's round is what every live cluster has done (all failed: the furthest any got).
  std::optional<std::uint32_t> least;
  std::uint32_t most = 0, most_done = 0;
  for (const auto& c : cp.clusters) {
    most = std::max(most, c.rounds_done);
    if (!c.failed)
      least = std::min(least.value_or(c.rounds_done), c.rounds_done);
  }
  most_done = most;
  if (cp.round != least.value_or(most))
    refuse("round", to_string(cp.round), "every live cluster has done " + to_string(least.value_or(most)) + " rounds");
  for (const auto& [id, c] : cp.clients) {
    auto field = "clients[" + to_string(id) + "]";
    l.client("clients", id);
    if (c.cluster) {
      if (*c.cluster >= cp.clusters.size())
        refuse(field + ".cluster", to_string(*c.cluster), "no such cluster (" + to_string(cp.clusters.size()) + ")");
      const auto& members = cp.clusters[*c.cluster].members;
      if (c.lost || !std::binary_search(members.begin(), members.end(), id))
        refuse(field + ".cluster", to_string(*c.cluster),
               c.lost ? "a lost client is in no cluster" : "the cluster does not list it as a member");
    }
    if (c.score && !std::isfinite(*c.score))
      refuse(field + ".score", std::to_string(*c.score), "not finite");
    if (c.joined_round != 0 && (id < ex.clients || c.joined_round != ex.late_join_round))
      refuse(field + ".joined_round", to_string(c.joined_round),
             ex.late_clients == 0 ? std::string("the run has no late clients, the only ones that join in a round")
                                  : "only late clients (" + to_string(ex.clients) + " to " + to_string(l.total - 1) +
                                      ") join, before round late_join_round = " + to_string(ex.late_join_round));
  }
  if (cp.late_joined && ex.late_clients == 0)
    refuse("late_joined", "true", "the run has no late clients");
  if (ex.late_clients > 0 && cp.late_joined && cp.round + 1 < ex.late_join_round)
    refuse("late_joined", "true", "late clients join before round " + to_string(ex.late_join_round) +
                                    ", after the checkpoint's round " + to_string(cp.round));
  if (ex.late_clients > 0 && !cp.late_joined && cp.round >= ex.late_join_round)
    refuse("late_joined", "false", "late clients join before round " + to_string(ex.late_join_round) +
                                     ", which the checkpoint's round " + to_string(cp.round) + " is past");
  // No cluster goes past the late join before the late clients have joined.
  if (ex.late_clients > 0 && !cp.late_joined && most_done >= ex.late_join_round)
    refuse("late_joined", "false", "a cluster has done " + to_string(most_done) + " rounds, but late clients join before round " +
                                     to_string(ex.late_join_round));
  l.model("report.initial_global", cp.report.initial_global);
  if (cp.report.initial_personalized.size() != l.total)
    refuse("report.initial_personalized", to_string(cp.report.initial_personalized.size()) + " values",
           "one per client: " + to_string(l.total));
  if (cp.report.clustering_method != ex.clustering.method)
    refuse("report.clustering_method", quoted(cp.report.clustering_method),
           "the run's clustering.method is " + quoted(ex.clustering.method));
  if (cp.report.k < 1 || cp.report.k > cp.clusters.size())
    refuse("report.k", to_string(cp.report.k), "not 1 to the " + to_string(cp.clusters.size()) + " clusters");
  if (cp.report.clusters.size() > cp.clusters.size())
    refuse("report.clusters", to_string(cp.report.clusters.size()) + " records",
           "more than the " + to_string(cp.clusters.size()) + " clusters");
  if (cp.report.late_joins.size() > ex.late_clients)
    refuse("report.late_joins", to_string(cp.report.late_joins.size()) + " records",
           "more than late_clients = " + to_string(ex.late_clients));
  for (std::size_t i = 0; i < cp.report.late_joins.size(); ++i) {
    const auto& j = cp.report.late_joins[i];
    auto field = at("report.late_joins", i);
    if (j.client < ex.clients || j.client >= l.total)
      refuse(field + ".client", to_string(j.client),
             "not a late client (" + to_string(ex.clients) + " to " + to_string(l.total - 1) + ")");
    if (j.cluster >= cp.clusters.size())
      refuse(field + ".cluster", to_string(j.cluster), "no such cluster (" + to_string(cp.clusters.size()) + ")");
    if (j.distances.size() > cp.clusters.size())
      refuse(field + ".distances", to_string(j.distances.size()) + " values",
             "more than the " + to_string(cp.clusters.size()) + " clusters");
  }
}

void check_features(const limits& l) {
  const auto& cp = l.cp;
  const auto& ex = l.s.experiment;
  if (cp.points.empty())
    return;
  // Kept only while late joiners are due, to place them by the clusters' centroids.
  if (ex.late_clients == 0 || cp.late_joined)
    refuse("points", to_string(cp.points.size()) + " clients' features", "kept only while late clients are due");
  std::size_t dim = ex.clustering.sketch_dim > 0 ? ex.clustering.sketch_dim : l.parameters;
  for (const auto& [id, p] : cp.points) {
    auto field = "points[" + to_string(id) + "]";
    if (id >= ex.clients)
      refuse("points", to_string(id), "not a client present from the start (0 to " + to_string(ex.clients - 1) + ")");
    if (p.size() != dim)
      refuse(field, to_string(p.size()) + " values",
             "a client's features have " + to_string(dim) +
               (ex.clustering.sketch_dim > 0 ? " (clustering.sketch_dim)" : " (the model's weights)"));
  }
}

void check_report(const limits& l) {
  const auto& cp = l.cp;
  const auto& ex = l.s.experiment;
  const auto& r = cp.report;
  std::size_t initial = 0, cluster = 0;
  for (std::size_t i = 0; i < r.rounds.size(); ++i) {
    const auto& x = r.rounds[i];
    auto field = at("report.rounds", i);
    if (x.phase == "initial") {
      ++initial;
      if (x.round < 1 || x.round > ex.rounds.initial)
        refuse(field + ".round", to_string(x.round), "not 1 to rounds.initial = " + to_string(ex.rounds.initial));
      if (x.cluster != fl::no_cluster)
        refuse(field + ".cluster", to_string(x.cluster), "an initial round belongs to no cluster");
    } else if (x.phase == "cluster") {
      ++cluster;
      if (cp.phase != "cluster")
        refuse(field + ".phase", quoted(x.phase), "an initial checkpoint has no cluster rounds");
      if (x.cluster >= cp.clusters.size())
        refuse(field + ".cluster", to_string(x.cluster), "no such cluster (" + to_string(cp.clusters.size()) + ")");
      if (x.round < 1 || x.round > cp.clusters[x.cluster].rounds_done)
        refuse(field + ".round", to_string(x.round), "not 1 to its cluster's rounds done (" +
                                                       to_string(cp.clusters[x.cluster].rounds_done) + ")");
      l.client(field + ".server", x.server);
    } else {
      refuse(field + ".phase", quoted(x.phase), "neither \"initial\" nor \"cluster\"");
    }
    if (x.failed.size() != x.failure_reasons.size())
      refuse(field + ".failed", to_string(x.failed.size()) + " clients",
             "failure_reasons has " + to_string(x.failure_reasons.size()));
    for (std::size_t f = 0; f < x.failed.size(); ++f)
      l.client(at(field + ".failed", f), x.failed[f]);
  }
  if (initial > ex.rounds.initial)
    refuse("report.rounds", to_string(initial) + " initial rounds", "more than rounds.initial = " +
                                                                      to_string(ex.rounds.initial));
  // Each cluster records each of its rounds once (a round re-run after an election, once).
  std::size_t recorded = 0;
  for (const auto& c : cp.clusters)
    recorded += c.rounds_done;
  if (cp.phase == "cluster" && cluster > recorded)
    refuse("report.rounds", to_string(cluster) + " cluster rounds",
           "more than the clusters' rounds done (" + to_string(recorded) + ")");
  for (std::size_t i = 0; i < r.scores.size(); ++i)
    l.client(at("report.scores", i) + ".client", r.scores[i].client);
  for (const auto& [id, xy] : r.projection)
    l.client("report.projection", id);
  for (const auto& [k, v] : r.silhouette)
    if (k < 2 || k > ex.clustering.k_max)
      refuse("report.silhouette", to_string(k), "not a k from 2 to clustering.k_max = " + to_string(ex.clustering.k_max));
  if (r.faults.size() > ex.faults.size())
    refuse("report.faults", to_string(r.faults.size()) + " applied", "more than the " + to_string(ex.faults.size()) +
                                                                         " configured faults");
  for (std::size_t i = 0; i < r.faults.size(); ++i) {
    const auto& f = r.faults[i];
    l.optional_client(at("report.faults", i) + ".client", f.client);
    // An applied fault is one of the configured ones (a resume finds its cluster by its target).
    bool configured = false;
    for (const auto& c : ex.faults) {
      auto target = c.client >= 0 ? to_string(c.client) : "server:" + to_string(c.server_of);
      configured = configured || (target == f.target && c.kind == f.kind && c.phase == f.phase && c.round == f.round);
    }
    if (!configured)
      refuse(at("report.faults", i), quoted(f.target + " " + f.kind + " " + f.phase + " round " + to_string(f.round)),
             "not one of the configured faults");
  }
}

} // namespace

void check_checkpoint(const fl::checkpoint& cp, const config::settings& s, std::size_t model_parameters,
                      std::uintmax_t metrics_file_size) {
  const auto& ex = s.experiment;
  const auto& cl = ex.clustering;
  // CFL adds a cluster per split (at most one per client); the others make k, or up to k_max.
  std::size_t max_clusters = fl::cluster_method_named(cl.method).splits ? ex.total_clients() : cl.k > 0 ? cl.k : cl.k_max;
  limits l{cp, s, model_parameters, ex.total_clients(), max_clusters};
  check_common(l);
  if (cp.phase == "initial")
    check_initial_phase(l);
  else
    check_cluster_phase(l);
  check_flights(l);
  check_features(l);
  check_report(l);
  // privacy.dp: the coordinator's accountant continues from here.
  const auto& rdp = cp.report.privacy_rdp;
  if (!l.s.experiment.privacy.on() && !rdp.empty())
    refuse("report.privacy_rdp", to_string(rdp.size()) + " values", "the run has privacy.dp=off");
  if (l.s.experiment.privacy.on() && !rdp.empty())
    if (auto why = fl::privacy::check_rdp_state(rdp, fl::privacy::default_orders().size()); !why.empty())
      refuse("report.privacy_rdp", to_string(rdp.size()) + " values", why);
  check_dp_clip("report.dp_clip", cp.report.dp_clip, l.s.experiment.privacy);
  // A resume cuts metrics.jsonl back to this size; the file must have reached it.
  if (cp.metrics_bytes > metrics_file_size)
    refuse("metrics_bytes", to_string(cp.metrics_bytes),
           "past the end of metrics.jsonl (" + to_string(metrics_file_size) + " bytes)");
}

fl::checkpoint read_checked_checkpoint(const std::string& run_dir, const std::string& run_id,
                                       const config::settings& s, std::size_t model_parameters) {
  auto cp = read_checkpoint(run_dir, run_id, s.experiment.total_clients());
  namespace fs = std::filesystem;
  auto metrics = fs::path(run_dir) / "metrics.jsonl";
  std::error_code ec;
  std::uintmax_t size = fs::is_regular_file(metrics, ec) ? fs::file_size(metrics, ec) : 0;
  if (ec)
    size = 0;
  try {
    check_checkpoint(cp, s, model_parameters, size);
  } catch (const checkpoint_error& e) {
    throw checkpoint_error((fs::path(run_dir) / "checkpoint" / "checkpoint.bin").string() + ": " + e.what() +
                           "; it does not fit this run's configuration and model (altered, or written by another "
                           "build) and cannot be resumed: start the run again");
  }
  return cp;
}

} // namespace flotilla::app
