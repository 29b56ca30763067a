// Selection: resource reports, the lowest cpu% + mem% per cluster serves (fl::cluster_registry
// applies the seed rule), and the chosen client actors are promoted in place. Promotion and
// re-election after a lost server share promote().
#include "actors/coordinator_phases.hpp"

namespace flotilla::actors::phases {

namespace {

// What cluster c's server needs: the cluster's model and strategy state, and the round rules.
server_role role_of(coordinator_actor* self, std::uint32_t c) {
  auto& st = self->state;
  const auto& ex = st.opt.experiment;
  const auto& rec = st.registry.cluster(c);
  server_role role;
  role.cluster = c;
  role.term = rec.term;
  role.strategy = ex.strategy;
  role.state = rec.state;
  role.model = weight_blob{st.opt.model.layout, rec.model};
  role.seed = ex.seed;
  role.fraction_fit = ex.rounds.fraction_fit;
  role.quorum = ex.rounds.quorum;
  role.timeout_s = ex.rounds.timeout_s;
  role.cfl = ex.clustering.method == "cfl";
  role.cfl_eps1 = ex.clustering.cfl_eps1;
  role.cfl_eps2 = ex.clustering.cfl_eps2;
  role.cfl_min_size = ex.clustering.cfl_min_size;
  return role;
}

} // namespace

void promote(coordinator_actor* self, std::uint32_t c, std::uint32_t round, std::function<void(bool)> then) {
  auto& st = self->state;
  auto server = st.registry.server_of(c);
  if (!server)
    return then(false);
  auto id = *server;
  auto handle = st.clients[id].handle;
  auto retry = [self, c, round, then, id](const std::string& why) {
    self->state.observer->on_warning("cluster " + std::to_string(c) + ": promotion of client " + std::to_string(id) +
                                     " failed: " + why);
    client_lost(self, id, "promotion failed: " + why);
    elect_and_promote(self, c, round, "promotion of client " + std::to_string(id) + " failed", then);
  };
  if (!handle)
    return retry("no actor (its node is gone)");
  fan_out<std::uint32_t>(*st.watch, {st.clients[id]}, st.opt.experiment.rounds.timeout_s,
                         [msg = caf::make_message(promote_atom::value, role_of(self, c))](const peer&) { return msg; },
                         [=](fan_in<std::uint32_t>& ack) {
                           if (!ack.failures.empty())
                             return retry(ack.failures.front().reason);
                           then(true);
                         });
}

void elect_and_promote(coordinator_actor* self, std::uint32_t c, std::uint32_t round, const std::string& reason,
                       std::function<void(bool)> then) {
  auto& st = self->state;
  const auto& before = st.registry.cluster(c);
  auto old = before.last_server;
  if (before.failed)
    return then(false);
  auto next = st.registry.elect(c, round, reason);
  if (!next) {
    st.observer->on_warning("cluster " + std::to_string(c) + " failed: " + st.registry.cluster(c).failure);
    return then(false);
  }
  st.observer->on_event("cluster " + std::to_string(c) + ": client " + std::to_string(*next) + " elected server (term " +
                          std::to_string(st.registry.cluster(c).term) + ", round " + std::to_string(round) + "): " +
                          reason);
  // A former server that is still around goes back to being a plain client, unless another
  // cluster has just elected it (IFCA moves clients, servers too): demoting it then would take
  // the role it holds now.
  auto serves_elsewhere = [&](std::uint32_t id) {
    for (const auto& other : st.registry.clusters())
      if (other.id != c && other.server == id)
        return true;
    return false;
  };
  if (old >= 0 && !st.registry.lost(static_cast<std::uint32_t>(old)) &&
      !serves_elsewhere(static_cast<std::uint32_t>(old)) && st.clients[static_cast<std::size_t>(old)].handle)
    self->send(st.clients[static_cast<std::size_t>(old)].handle, demote_atom::value);
  promote(self, c, round, std::move(then));
}

caf::message_handler selection(coordinator_actor* self) {
  return {
    [=](next_atom) {
      auto& st = self->state;
      st.phase_start = std::chrono::steady_clock::now();
      st.observer->on_phase("selection", "resource reports from every clustered client");
      std::vector<peer> clustered;
      for (const auto& c : st.registry.clusters()) {
        auto m = member_peers(self, c.id);
        clustered.insert(clustered.end(), m.begin(), m.end());
      }
      std::sort(clustered.begin(), clustered.end(), [](const peer& a, const peer& b) { return a.id < b.id; });
      auto msg = caf::make_message(resources_atom::value);
      fan_out<resource_report>(
        *st.watch, clustered, st.opt.experiment.rounds.timeout_s, [msg](const peer&) { return msg; },
        [=](fan_in<resource_report>& reports) {
          auto& st = self->state;
          auto& rep = *st.report;
          // A client that cannot report cannot serve: it has no score and ranks last.
          for (const auto& [id, r] : reports.results) {
            st.registry.set_score(id, fl::server_score(r.cpu, r.mem));
            rep.scores.push_back({id, r.host_cpu, r.host_mem, r.own_cpu_seconds, r.window_seconds, r.own_bytes,
                                  r.profiled, r.cpu, r.mem});
          }
          for (const auto& f : reports.failures)
            st.observer->on_warning("client " + std::to_string(f.id) + " sent no resource report: " + f.reason);
          st.registry.select_servers();
          auto left = std::make_shared<std::size_t>(st.registry.clusters().size());
          auto one_done = [self, left](bool) {
            if (--*left > 0)
              return;
            self->state.report->clustering_seconds += since(self->state.phase_start);
            enter(self, cluster_rounds);
          };
          for (const auto& c : st.registry.clusters())
            promote(self, c.id, 0, one_done);
        });
    },
  };
}

} // namespace flotilla::actors::phases
