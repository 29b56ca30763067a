// Selection: resource reports, the lowest cpu% + mem% per cluster becomes its server, and the
// chosen client actors are promoted in place.
#include "actors/coordinator_phases.hpp"
#include "fl/selection.hpp"

namespace flotilla::actors::phases {

namespace {

// What cluster c's server needs: the cluster's model and strategy state, and the round rules.
server_role role_of(coordinator_actor* self, std::uint32_t c) {
  auto& st = self->state;
  const auto& ex = st.opt.experiment;
  const auto& cl = st.clusters[c];
  server_role role;
  role.cluster = c;
  role.term = cl.term;
  role.strategy = ex.strategy;
  role.state = cl.state;
  role.model = cl.model;
  role.seed = ex.seed;
  role.fraction_fit = ex.rounds.fraction_fit;
  role.quorum = ex.rounds.quorum;
  role.timeout_s = ex.rounds.timeout_s;
  return role;
}

// Each chosen client actor becomes its cluster's aggregator, starting from the global model.
void promote_servers(coordinator_actor* self) {
  auto& st = self->state;
  std::vector<peer> servers;
  std::map<std::uint32_t, caf::message> promotion;
  for (std::uint32_t c = 0; c < st.clusters.size(); ++c) {
    auto& cl = st.clusters[c];
    cl.model = st.global;
    cl.state = fl::strategy_state{st.opt.experiment.strategy.name, 0, {}};
    servers.push_back(cl.server);
    promotion[cl.server.id] = caf::make_message(promote_atom::value, role_of(self, c));
  }
  std::sort(servers.begin(), servers.end(), [](const peer& a, const peer& b) { return a.id < b.id; });
  fan_out<std::uint32_t>(*st.watch, servers, st.opt.experiment.rounds.timeout_s,
                         [promotion](const peer& p) { return promotion.at(p.id); },
                         [=](fan_in<std::uint32_t>& acks) {
                           auto& st = self->state;
                           for (auto& cl : st.clusters)
                             for (const auto& f : acks.failures)
                               if (f.id == cl.server.id) {
                                 cl.failed = true;
                                 cl.failure = "promotion of client " + std::to_string(f.id) + " failed: " + f.reason;
                                 st.observer->on_warning(cl.failure);
                               }
                           st.report->clustering_seconds += since(st.phase_start);
                           enter(self, cluster_rounds);
                         });
}

} // namespace

caf::behavior selection(coordinator_actor* self) {
  return {
    [=](next_atom) {
      auto& st = self->state;
      st.phase_start = std::chrono::steady_clock::now();
      st.observer->on_phase("selection", "resource reports from every clustered client");
      std::vector<peer> clustered;
      for (const auto& c : st.clusters)
        clustered.insert(clustered.end(), c.members.begin(), c.members.end());
      std::sort(clustered.begin(), clustered.end(), [](const peer& a, const peer& b) { return a.id < b.id; });
      auto msg = caf::make_message(resources_atom::value);
      fan_out<resource_report>(
        *st.watch, clustered, st.opt.experiment.rounds.timeout_s, [msg](const peer&) { return msg; },
        [=](fan_in<resource_report>& reports) {
          auto& st = self->state;
          auto& rep = *st.report;
          // A client that cannot report cannot serve: it scores worst.
          std::vector<fl::resource_score> scores(st.clients.size(), {1e9, 1e9});
          for (const auto& [id, r] : reports.results) {
            scores[id] = {r.cpu, r.mem};
            rep.scores.push_back({id, r.host_cpu, r.host_mem, r.own_cpu_seconds, r.window_seconds, r.own_bytes,
                                  r.profiled, r.cpu, r.mem});
          }
          for (const auto& f : reports.failures)
            st.observer->on_warning("client " + std::to_string(f.id) + " sent no resource report: " + f.reason);
          std::vector<std::uint32_t> assignment, ids;
          std::vector<fl::resource_score> clustered_scores;
          for (std::uint32_t id = 0; id < st.clients.size(); ++id)
            if (rep.assignment[id] != fl::no_cluster) {
              assignment.push_back(rep.assignment[id]);
              clustered_scores.push_back(scores[id]);
              ids.push_back(id);
            }
          auto servers =
            fl::select_servers(assignment, static_cast<std::uint32_t>(st.clusters.size()), clustered_scores);
          for (std::size_t c = 0; c < st.clusters.size(); ++c)
            st.clusters[c].server = st.clients[ids[servers[c]]];
          promote_servers(self);
        });
    },
  };
}

} // namespace flotilla::actors::phases
