// Selection: resource reports, the lowest cpu% + mem% per cluster becomes its server, the
// chosen client actors are promoted in place, and members learn their server.
#include "actors/coordinator_phases.hpp"
#include "fl/selection.hpp"

namespace flotilla::actors::phases {

namespace {

void tell_members(coordinator_actor* self, fan_in<std::uint32_t>& acks) {
  auto& st = self->state;
  std::vector<peer> members;
  std::map<std::uint32_t, caf::message> notice;
  for (std::uint32_t c = 0; c < st.clusters.size(); ++c) {
    auto& cl = st.clusters[c];
    for (const auto& f : acks.failures)
      if (f.id == cl.server.id) {
        cl.failed = true;
        cl.failure = "promotion of client " + std::to_string(f.id) + " failed: " + f.reason;
        st.observer->on_warning("cluster " + std::to_string(c) + ": " + cl.failure);
      }
    if (cl.failed)
      continue;
    auto msg = caf::make_message(member_atom::value, c, cl.server.handle);
    for (const auto& m : cl.members) {
      members.push_back(m);
      notice[m.id] = msg;
    }
  }
  std::sort(members.begin(), members.end(), [](const peer& a, const peer& b) { return a.id < b.id; });
  fan_out<std::uint32_t>(self, members, st.cfg.timeout_s, [notice](const peer& p) { return notice.at(p.id); },
                         [=](fan_in<std::uint32_t>& joined) {
                           for (const auto& f : joined.failures)
                             self->state.observer->on_warning("client " + std::to_string(f.id) +
                                                              " did not learn its cluster: " + f.reason);
                           self->state.report->clustering_seconds += since(self->state.phase_start);
                           enter(self, cluster_rounds);
                         });
}

// Each chosen client actor becomes its cluster's aggregator, starting from the global model.
void promote_servers(coordinator_actor* self) {
  auto& st = self->state;
  std::vector<peer> servers;
  std::map<std::uint32_t, caf::message> promotion;
  for (std::uint32_t c = 0; c < st.clusters.size(); ++c) {
    auto& cl = st.clusters[c];
    cl.model = st.global;
    cluster_spec spec;
    spec.cluster = c;
    for (const auto& m : cl.members) {
      spec.member_ids.push_back(m.id);
      spec.members.push_back(m.handle);
    }
    spec.timeout_s = st.cfg.timeout_s;
    spec.quorum = st.cfg.quorum;
    spec.fraction_fit = st.cfg.fraction_fit;
    spec.seed = st.cfg.seed * 7919 + c;
    spec.expected_size = st.cfg.model.parameters;
    servers.push_back(cl.server);
    promotion[cl.server.id] = caf::make_message(promote_atom::value, std::move(spec), st.global);
  }
  fan_out<std::uint32_t>(self, servers, st.cfg.timeout_s, [promotion](const peer& p) { return promotion.at(p.id); },
                         [=](fan_in<std::uint32_t>& acks) { tell_members(self, acks); });
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
        self, clustered, st.cfg.timeout_s, [msg](const peer&) { return msg; },
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
          auto servers = fl::select_servers(assignment, static_cast<std::uint32_t>(st.clusters.size()),
                                            clustered_scores);
          for (std::size_t c = 0; c < st.clusters.size(); ++c)
            st.clusters[c].server = st.clients[ids[servers[c]]];
          promote_servers(self);
        });
    },
  };
}

} // namespace flotilla::actors::phases
