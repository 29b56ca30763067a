// The cluster phase's changes of membership: CFL splits a cluster whose members pull apart,
// IFCA moves every client to the cluster model that fits its data best, and late joiners are
// placed in the cluster whose centroid is nearest to their features.
#include "actors/coordinator_phases.hpp"
#include "actors/blob_transfer.hpp"
#include "fl/nearest.hpp"
#include "fl/sketch.hpp"

namespace flotilla::actors::phases {

namespace {

// Runs `tasks` (each calls its continuation once) and then `then`.
void all_of(std::vector<std::function<void(std::function<void()>)>> tasks, std::function<void()> then) {
  if (tasks.empty())
    return then();
  auto left = std::make_shared<std::size_t>(tasks.size());
  for (auto& t : tasks)
    t([left, then] {
      if (--*left == 0)
        then();
    });
}

std::string list(const std::vector<std::uint32_t>& ids) {
  std::string out;
  for (auto id : ids)
    out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

} // namespace

void apply_splits(coordinator_actor* self, std::uint32_t round, std::function<void()> then) {
  auto& st = self->state;
  auto splits = std::move(st.splits);
  st.splits.clear();
  std::vector<std::function<void(std::function<void()>)>> tasks;
  for (auto& [c, proposed] : splits) {
    if (st.registry.cluster(c).failed)
      continue;
    auto live = st.registry.live_members(c);
    std::vector<std::uint32_t> second;
    for (auto id : proposed)
      if (std::binary_search(live.begin(), live.end(), id))
        second.push_back(id);
    if (second.empty() || second.size() == live.size())
      continue;
    auto parent = c;
    auto child = st.registry.split(parent, second, round);
    st.observer->on_event("cluster " + std::to_string(parent) + " splits after round " + std::to_string(round) +
                            " (CFL): clients " + list(second) + " form cluster " + std::to_string(child));
    if (!st.registry.server_of(parent))
      tasks.push_back([self, parent, child, round](std::function<void()> k) {
        elect_and_promote(self, parent, round, "its server moved to cluster " + std::to_string(child) + " (CFL split)",
                          [k](bool) { k(); });
      });
    tasks.push_back([self, parent, child, round](std::function<void()> k) {
      elect_and_promote(self, child, round, "first server of cluster " + std::to_string(child) +
                                              " (CFL split of cluster " + std::to_string(parent) + ")",
                        [k](bool) { k(); });
    });
  }
  if (!splits.empty() && st.report->clusters.size() < st.registry.clusters().size())
    st.report->clusters.resize(st.registry.clusters().size());
  all_of(std::move(tasks), std::move(then));
}

void reassign_by_loss(coordinator_actor* self, std::uint32_t round, std::function<void()> then) {
  auto& st = self->state;
  st.reassigned.clear();
  std::vector<std::uint32_t> order;
  std::vector<weight_blob> models;
  std::vector<peer> members;
  for (const auto& c : st.registry.clusters())
    if (!c.failed) {
      order.push_back(c.id);
      models.push_back(weight_blob{st.opt.model.layout, c.model});
      auto m = member_peers(self, c.id);
      members.insert(members.end(), m.begin(), m.end());
    }
  if (order.size() < 2)
    return then();
  std::sort(members.begin(), members.end(), [](const peer& a, const peer& b) { return a.id < b.id; });
  auto msg = caf::make_message(losses_atom::value, models);
  fan_out<std::vector<double>>(
    *st.watch, members, st.opt.experiment.rounds.timeout_s, [msg](const peer&) { return msg; },
    [=](fan_in<std::vector<double>>& answers) {
      auto& st = self->state;
      std::set<std::uint32_t> need_server;
      std::uint32_t moved = 0;
      for (const auto& [id, losses] : answers.results) {
        if (losses.size() != order.size() || st.registry.lost(id))
          continue;
        auto current = st.registry.cluster_of(id);
        // The lowest loss wins; a tie keeps the client where it is, else the lowest cluster id.
        std::size_t best = 0;
        for (std::size_t i = 1; i < losses.size(); ++i)
          if (losses[i] < losses[best] || (losses[i] == losses[best] && current && order[i] == *current))
            best = i;
        auto to = order[best];
        if (current && *current == to)
          continue;
        for (auto c : st.registry.move_member(id, to))
          need_server.insert(c);
        ++st.reassigned[to];
        ++moved;
      }
      for (const auto& f : answers.failures)
        st.observer->on_warning("client " + std::to_string(f.id) + " could not compare the cluster models: " + f.reason);
      if (moved > 0)
        st.observer->on_event( std::to_string(moved) + " clients moved to the cluster model with their lowest loss");
      std::vector<std::function<void(std::function<void()>)>> tasks;
      for (auto c : need_server)
        tasks.push_back([self, c, round](std::function<void()> k) {
          elect_and_promote(self, c, round + 1, "its server moved to another cluster (IFCA)", [k](bool) { k(); });
        });
      all_of(std::move(tasks), then);
    });
}

void join_late_clients(coordinator_actor* self, std::uint32_t round, std::function<void()> then) {
  auto& st = self->state;
  const auto& ex = st.opt.experiment;
  std::vector<peer> late;
  for (auto id = ex.clients; id < ex.total_clients(); ++id) {
    if (st.clients[id].handle)
      late.push_back(st.clients[id]);
    else
      st.observer->on_warning("late client " + std::to_string(id) + " has no actor (no node hosts it); it does not join");
  }
  st.observer->on_phase("late join", std::to_string(late.size()) + " clients before cluster round " +
                                       std::to_string(round));
  // A late client trains once from the global model of the end of the initial phase; its
  // weights are placed like the clustered clients' (same features, same space).
  weight_blob start{st.opt.model.layout, st.report->initial_global};
  auto msg = caf::make_message(fit_atom::value, fit_ins{fl::fit_config{ex.rounds.initial, 0, 0, 0}, start});
  fan_out_hooks<fit_result> fetching; // a joiner on another node may send a large update as a reference
  fetching.accept_async = [self, expected = st.opt.model.parameters](std::uint32_t, fit_result& r,
                                                                     std::function<void(std::string, errc)> settle) {
    auto* held = &r; // owned by the fan-out until settle is called
    fetch_blob(self, r.weights, expected, [held, settle](std::string error, weight_blob w) {
      if (!error.empty())
        return settle("its update could not be fetched: " + error, errc::round_failed);
      held->weights = std::move(w);
      settle({}, errc::bad_update);
    });
  };
  fan_out<fit_result>(*st.watch, late, ex.rounds.timeout_s, [msg](const peer&) { return msg; },
                      [=](fan_in<fit_result>& fits) {
    auto& st = self->state;
    const auto& ex = st.opt.experiment;
    auto dim = ex.clustering.sketch_dim > 0 ? ex.clustering.sketch_dim : st.opt.model.parameters;
    // Centroids of the clusters as they are now, from their members' clustering features.
    std::vector<std::vector<float>> centroids;
    std::vector<std::uint32_t> cluster_at;
    for (const auto& c : st.registry.clusters()) {
      if (c.failed)
        continue;
      std::vector<double> sum(dim, 0.0);
      std::size_t n = 0;
      for (auto id : c.members) {
        auto p = st.points.find(id);
        if (p == st.points.end())
          continue;
        for (std::size_t i = 0; i < dim; ++i)
          sum[i] += (*p->second)[i];
        ++n;
      }
      if (n == 0)
        continue;
      std::vector<float> centre(dim);
      for (std::size_t i = 0; i < dim; ++i)
        centre[i] = static_cast<float>(sum[i] / static_cast<double>(n));
      centroids.push_back(std::move(centre));
      cluster_at.push_back(c.id);
    }
    std::vector<peer> joined;
    for (auto& [id, r] : fits.results) {
      if (centroids.empty())
        break;
      auto features = ex.clustering.sketch_dim > 0 ? fl::sketch(r.weights.values(), dim, ex.seed) : r.weights.values();
      auto where = fl::nearest_centroid(features.data(), dim, centroids);
      auto cluster = cluster_at[where.cluster];
      fl::late_join_record rec{id, cluster, round, std::vector<double>(st.registry.clusters().size(), -1.0)};
      for (std::size_t i = 0; i < cluster_at.size(); ++i)
        rec.distances[cluster_at[i]] = where.distances[i];
      st.registry.add_member(cluster, id, round);
      st.samples_of[id] = r.samples;
      st.report->late_joins.push_back(rec);
      joined.push_back(st.clients[id]);
      st.observer->on_event("late client " + std::to_string(id) + " joins cluster " + std::to_string(cluster) +
                              " before round " + std::to_string(round));
    }
    for (const auto& f : fits.failures)
      st.observer->on_warning("late client " + std::to_string(f.id) + " could not join: " + f.reason);
    st.points.clear(); // nobody else will need the features
    // The initial global model on the joiners' local splits, the baseline the report compares.
    auto eval = caf::make_message(evaluate_atom::value, weight_blob{st.opt.model.layout, st.report->initial_global});
    fan_out<eval_result>(*st.watch, joined, ex.rounds.timeout_s, [eval](const peer&) { return eval; },
                         [self, then](fan_in<eval_result>& evals) {
                           for (const auto& [id, e] : evals.results)
                             self->state.report->initial_personalized[id] = e.accuracy;
                           then();
                         });
  }, fetching);
}

} // namespace flotilla::actors::phases
