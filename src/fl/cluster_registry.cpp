#include "fl/cluster_registry.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <set>
#include <stdexcept>

namespace flotilla::fl {

namespace {

std::invalid_argument error(const char* who, const std::string& what) {
  return std::invalid_argument(std::string("cluster_registry::") + who + ": " + what);
}

std::string id(std::uint32_t x) {
  return std::to_string(x);
}

void insert_sorted(std::vector<std::uint32_t>& v, std::uint32_t x) {
  v.insert(std::lower_bound(v.begin(), v.end(), x), x);
}

void erase_sorted(std::vector<std::uint32_t>& v, std::uint32_t x) {
  auto it = std::lower_bound(v.begin(), v.end(), x);
  if (it != v.end() && *it == x)
    v.erase(it);
}

} // namespace

cluster_record& cluster_registry::live_cluster(const char* who, std::uint32_t cluster) {
  if (cluster >= clusters_.size())
    throw error(who, "cluster " + id(cluster) + " does not exist (" + std::to_string(clusters_.size()) + " clusters)");
  auto& c = clusters_[cluster];
  if (c.failed)
    throw error(who, "cluster " + id(cluster) + " has failed: " + c.failure);
  return c;
}

client_record& cluster_registry::known_client(const char* who, std::uint32_t client) {
  auto it = clients_.find(client);
  if (it == clients_.end())
    throw error(who, "client " + id(client) + " is unknown");
  return it->second;
}

std::optional<std::uint32_t> cluster_registry::best_candidate(const cluster_record& c, std::int64_t excluded) const {
  // The lowest score serves; a client without a report ranks after every reported one. Members
  // ascend, and only a strictly better candidate replaces the best, so ties keep the lowest id.
  std::optional<std::uint32_t> best;
  auto rank = [&](std::uint32_t m) {
    const auto& s = clients_.at(m).score;
    return s ? *s : std::numeric_limits<double>::infinity();
  };
  for (auto m : c.members) {
    if (static_cast<std::int64_t>(m) == excluded || clients_.at(m).lost)
      continue;
    if (!best || rank(m) < rank(*best))
      best = m;
  }
  return best;
}

void cluster_registry::create(const std::vector<std::uint32_t>& assignment, std::uint32_t k,
                              std::shared_ptr<const std::vector<float>> model, strategy_state state) {
  if (!clusters_.empty())
    throw error("create", "the clusters exist already");
  if (k == 0)
    throw error("create", "k must be at least 1");
  if (!model)
    throw error("create", "no model");
  std::vector<cluster_record> clusters(k);
  for (std::uint32_t c = 0; c < k; ++c) {
    clusters[c].id = c;
    clusters[c].model = model;
    clusters[c].state = state;
  }
  std::map<std::uint32_t, client_record> clients;
  for (std::uint32_t i = 0; i < assignment.size(); ++i) {
    if (assignment[i] == unassigned)
      continue; // not clustered (e.g. it missed the last initial round)
    if (assignment[i] >= k)
      throw error("create", "client " + id(i) + " is in cluster " + id(assignment[i]) + " of " + id(k));
    clusters[assignment[i]].members.push_back(i); // i ascends: members stay sorted
    clients[i].cluster = assignment[i];
  }
  for (const auto& c : clusters)
    if (c.members.empty())
      throw error("create", "cluster " + id(c.id) + " of " + id(k) + " has no members");
  clusters_ = std::move(clusters);
  clients_ = std::move(clients);
}

cluster_registry cluster_registry::restore(std::vector<cluster_record> clusters,
                                           std::map<std::uint32_t, client_record> clients, bool selected) {
  for (std::uint32_t i = 0; i < clusters.size(); ++i) {
    if (clusters[i].id != i)
      throw error("restore", "cluster ids must be 0.." + id(static_cast<std::uint32_t>(clusters.size() - 1)));
    for (auto m : clusters[i].members) {
      auto it = clients.find(m);
      if (it == clients.end() || it->second.lost || it->second.cluster != i)
        throw error("restore", "member " + id(m) + " of cluster " + id(i) + " is not a live client of it");
    }
    if (clusters[i].server && !std::binary_search(clusters[i].members.begin(), clusters[i].members.end(),
                                                  *clusters[i].server))
      throw error("restore", "the server of cluster " + id(i) + " is not one of its members");
  }
  cluster_registry r;
  r.clusters_ = std::move(clusters);
  r.clients_ = std::move(clients);
  r.selected_ = selected;
  return r;
}

void cluster_registry::set_score(std::uint32_t client, double score) {
  auto& c = known_client("set_score", client);
  if (!std::isfinite(score))
    throw error("set_score", "the score of client " + id(client) + " is not finite");
  c.score = score;
}

void cluster_registry::select_servers() {
  if (clusters_.empty())
    throw error("select_servers", "no clusters; call create first");
  if (selected_)
    throw error("select_servers", "servers were selected already; replace one with elect");
  selected_ = true;
  for (auto& c : clusters_) {
    if (c.failed)
      continue;
    auto best = best_candidate(c, -1);
    if (!best) {
      c.failed = true;
      c.failure = "no live member to serve";
      continue;
    }
    c.server = best;
    c.last_server = *best;
    c.term = 1;
  }
}

std::vector<std::uint32_t> cluster_registry::mark_lost(std::uint32_t client, const std::string& reason) {
  auto& record = known_client("mark_lost", client);
  std::vector<std::uint32_t> orphaned;
  if (record.lost)
    return orphaned;
  record.lost = true;
  record.lost_reason = reason;
  if (record.cluster) {
    auto& c = clusters_[*record.cluster];
    erase_sorted(c.members, client);
    if (c.server == client) {
      c.server.reset();
      if (!c.failed) // a failed cluster holds no elections
        orphaned.push_back(c.id);
    }
    record.cluster.reset();
  }
  return orphaned;
}

std::optional<std::uint32_t> cluster_registry::elect(std::uint32_t cluster, std::uint32_t round,
                                                     const std::string& reason) {
  auto& c = live_cluster("elect", cluster);
  if (reason.empty())
    throw error("elect", "no reason given for the election in cluster " + id(cluster));
  // The server being replaced never re-elects itself, even while it is still a live member.
  auto best = best_candidate(c, c.last_server);
  if (!best) {
    c.server.reset();
    c.failed = true;
    c.failure = "no live member left to serve (" + reason + ")";
    return std::nullopt;
  }
  ++c.term;
  c.elections.push_back({round, c.term, c.last_server, *best, reason});
  c.server = best;
  c.last_server = *best;
  return best;
}

void cluster_registry::add_member(std::uint32_t cluster, std::uint32_t client, std::uint32_t round) {
  auto& c = live_cluster("add_member", cluster);
  if (auto it = clients_.find(client); it != clients_.end())
    throw error("add_member", "client " + id(client) + " is known already (" +
                                (it->second.lost ? "lost" : "in cluster " + id(*it->second.cluster)) +
                                "); only new clients join late");
  auto& record = clients_[client];
  record.joined_round = round;
  record.cluster = cluster;
  insert_sorted(c.members, client);
}

std::vector<std::uint32_t> cluster_registry::move_member(std::uint32_t client, std::uint32_t to_cluster) {
  auto& record = known_client("move_member", client);
  if (record.lost)
    throw error("move_member", "client " + id(client) + " is lost");
  auto& to = live_cluster("move_member", to_cluster);
  std::vector<std::uint32_t> orphaned;
  if (*record.cluster == to_cluster)
    return orphaned;
  auto& from = clusters_[*record.cluster];
  erase_sorted(from.members, client);
  if (from.server == client) {
    from.server.reset();
    if (!from.failed)
      orphaned.push_back(from.id);
  }
  insert_sorted(to.members, client);
  record.cluster = to_cluster;
  return orphaned;
}

std::uint32_t cluster_registry::split(std::uint32_t cluster, const std::vector<std::uint32_t>& second_members,
                                      std::uint32_t round) {
  auto& parent = live_cluster("split", cluster);
  std::set<std::uint32_t> second(second_members.begin(), second_members.end());
  if (second.size() != second_members.size())
    throw error("split", "the second side of cluster " + id(cluster) + " names a client twice");
  if (second.empty() || second.size() >= parent.members.size())
    throw error("split", "the second side of cluster " + id(cluster) + " has " + std::to_string(second.size()) +
                           " of its " + std::to_string(parent.members.size()) +
                           " members; both sides need at least one");
  for (auto m : second)
    if (!std::binary_search(parent.members.begin(), parent.members.end(), m))
      throw error("split", "client " + id(m) + " is not a member of cluster " + id(cluster));

  cluster_record child;
  child.id = static_cast<std::uint32_t>(clusters_.size());
  child.members.assign(second.begin(), second.end());
  child.model = parent.model;
  child.state = parent.state;
  child.rounds_done = parent.rounds_done;
  child.sim_time_s = parent.sim_time_s;
  child.created_round = round;
  child.parent = cluster;
  std::vector<std::uint32_t> kept;
  std::set_difference(parent.members.begin(), parent.members.end(), second.begin(), second.end(),
                      std::back_inserter(kept));
  parent.members = std::move(kept);
  if (parent.server && second.count(*parent.server))
    parent.server.reset();
  for (auto m : child.members)
    clients_.at(m).cluster = child.id;
  clusters_.push_back(std::move(child)); // last: `parent` refers into clusters_
  return clusters_.back().id;
}

void cluster_registry::record_privacy(std::uint32_t cluster, std::vector<double> rdp) {
  live_cluster("record_privacy", cluster).privacy_rdp = std::move(rdp);
}

void cluster_registry::record_clip(std::uint32_t cluster, double clip) {
  live_cluster("record_clip", cluster).dp_clip = clip;
}

void cluster_registry::record_round(std::uint32_t cluster, std::uint32_t round,
                                    std::shared_ptr<const std::vector<float>> model, strategy_state state,
                                    double ended, async_state async) {
  auto& c = live_cluster("record_round", cluster);
  if (!model)
    throw error("record_round", "no model for round " + id(round) + " of cluster " + id(cluster));
  if (model->size() != c.model->size())
    throw error("record_round", "the model of cluster " + id(cluster) + " has " + std::to_string(model->size()) +
                                  " values, expected " + std::to_string(c.model->size()));
  if (round <= c.rounds_done)
    throw error("record_round", "round " + id(round) + " of cluster " + id(cluster) + " is not after round " +
                                  id(c.rounds_done));
  c.model = std::move(model);
  c.state = std::move(state);
  c.rounds_done = round;
  c.sim_time_s = std::max(c.sim_time_s, ended);
  c.async = std::move(async);
}

void cluster_registry::start_clocks(double at) {
  for (auto& c : clusters_)
    c.sim_time_s = at;
}

void cluster_registry::advance_clock(std::uint32_t cluster, double seconds) {
  if (cluster < clusters_.size() && seconds > 0)
    clusters_[cluster].sim_time_s += seconds;
}

void cluster_registry::meet_clocks(const std::vector<std::uint32_t>& clusters) {
  double latest = 0;
  for (auto c : clusters)
    if (c < clusters_.size())
      latest = std::max(latest, clusters_[c].sim_time_s);
  for (auto c : clusters)
    if (c < clusters_.size())
      clusters_[c].sim_time_s = latest;
}

void cluster_registry::mark_failed(std::uint32_t cluster, const std::string& failure) {
  if (cluster >= clusters_.size())
    throw error("mark_failed", "cluster " + id(cluster) + " does not exist (" + std::to_string(clusters_.size()) +
                                 " clusters)");
  auto& c = clusters_[cluster];
  if (c.failed)
    return; // the first failure is the one to report
  c.failed = true;
  c.failure = failure;
}

const cluster_record& cluster_registry::cluster(std::uint32_t cluster) const {
  if (cluster >= clusters_.size())
    throw error("cluster", "cluster " + id(cluster) + " does not exist (" + std::to_string(clusters_.size()) +
                             " clusters)");
  return clusters_[cluster];
}

std::vector<std::uint32_t> cluster_registry::live_members(std::uint32_t id) const {
  std::vector<std::uint32_t> out;
  for (auto m : cluster(id).members)
    if (!clients_.at(m).lost)
      out.push_back(m);
  return out;
}

std::optional<std::uint32_t> cluster_registry::server_of(std::uint32_t id) const {
  return cluster(id).server;
}

const client_record& cluster_registry::client(std::uint32_t client) const {
  auto it = clients_.find(client);
  if (it == clients_.end())
    throw error("client", "client " + id(client) + " is unknown");
  return it->second;
}

std::optional<std::uint32_t> cluster_registry::cluster_of(std::uint32_t id) const {
  return client(id).cluster;
}

bool cluster_registry::lost(std::uint32_t id) const {
  return client(id).lost;
}

} // namespace flotilla::fl
