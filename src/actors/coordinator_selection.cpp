// Selection: resource reports, scored by selection.policy (fl/server_choice.hpp: the seed's
// lowest cpu% + mem% by default); the lowest score per cluster serves (fl::cluster_registry);
// the cluster phase then promotes the chosen client actors in place (promote(), also for every
// election).
#include "actors/coordinator_phases.hpp"
#include "actors/async_steps.hpp"
#include "fl/server_choice.hpp"

namespace flotilla::actors::phases {

namespace {

// What cluster c's server needs: the cluster's model and strategy state, and the round rules.
server_role role_of(coordinator_actor* self, std::uint32_t c) {
  auto& st = self->state;
  const auto& ex = st.opt.experiment;
  const auto& rec = st.phase.registry().cluster(c);
  server_role role;
  role.cluster = c;
  role.term = rec.term;
  role.strategy = ex.strategy;
  role.state = rec.state;
  role.model = weight_blob{st.opt.model.layout, rec.model};
  role.seed = ex.seed;
  role.fraction_fit = ex.rounds.fraction_fit;
  role.stragglers = ex.rounds.stragglers.fraction;
  role.keep_stragglers = fl::keeps_stragglers(ex.rounds.stragglers, ex.strategy.name);
  role.epochs = ex.rounds.epochs;
  role.quorum = ex.rounds.quorum;
  role.timeout_s = ex.rounds.timeout_s;
  role.cfl = fl::cluster_method_named(ex.clustering.method).splits;
  role.cfl_eps1 = ex.clustering.cfl_eps1;
  role.cfl_eps2 = ex.clustering.cfl_eps2;
  role.cfl_min_size = ex.clustering.cfl_min_size;
  role.async = ex.async;
  role.eval_every = ex.rounds.eval_every;
  role.rounds = ex.rounds.cluster;
  role.in_flight = to_wire(rec.async, st.opt.model.layout); // a new server sends these fits again
  role.secure = ex.privacy.secure_aggregation;
  role.min_cluster = ex.privacy.min_cluster;
  if (ex.privacy.on()) {
    role.dp_sigma = ex.privacy.noise_multiplier;
    role.dp_clip = ex.privacy.clip;
    role.dp_distributed = ex.privacy.dp == "distributed";
    role.dp_adaptive = ex.privacy.adaptive_clip;
  }
  return role;
}

} // namespace

void promote(coordinator_actor* self, std::uint32_t c, std::int64_t demote, std::function<void(std::string)> then) {
  auto& st = self->state;
  if (demote >= 0 && static_cast<std::size_t>(demote) < st.clients.size() &&
      st.clients[static_cast<std::size_t>(demote)].handle)
    self->send(st.clients[static_cast<std::size_t>(demote)].handle, demote_atom::value);
  auto server = st.phase.registry().server_of(c);
  if (!server)
    return then("it has no server");
  auto id = *server;
  if (!st.clients[id].handle)
    return then("no actor (its node is gone)");
  fan_out<std::uint32_t>(*st.watch, {st.clients[id]}, st.opt.experiment.rounds.timeout_s,
                         [role = role_of(self, c)](const peer&) { return std::make_tuple(promote_atom::value, role); },
                         [then](fan_in<std::uint32_t>& ack) {
                           then(ack.failures.empty() ? std::string{} : ack.failures.front().reason);
                         });
}

caf::message_handler selection(coordinator_actor* self) {
  return {
    [=](next_atom, std::uint32_t) {
      auto& st = self->state;
      st.phase_start = std::chrono::steady_clock::now();
      st.observer->on_phase("selection", "resource reports from every clustered client");
      std::vector<peer> clustered;
      for (const auto& c : st.phase.registry().clusters()) {
        auto m = member_peers(self, c.id);
        clustered.insert(clustered.end(), m.begin(), m.end());
      }
      std::sort(clustered.begin(), clustered.end(), [](const peer& a, const peer& b) { return a.id < b.id; });
      fan_out<resource_report>(
        *st.watch, clustered, st.opt.experiment.rounds.timeout_s,
        [](const peer&) { return std::make_tuple(resources_atom::value); },
        [=](fan_in<resource_report>& reports) {
          auto& st = self->state;
          auto& rep = *st.report;
          // A client that cannot report cannot serve: it has no score and ranks last.
          for (const auto& [id, r] : reports.results) {
            const auto* device = st.opt.clock ? &st.opt.clock->of(id) : nullptr;
            st.phase.registry().set_score(id, fl::server_choice_score(st.opt.experiment.selection_policy, r.cpu, r.mem,
                                                                      device, st.opt.model.parameters * sizeof(float),
                                                                      st.opt.experiment.seed, id));
            rep.scores.push_back({id, r.host_cpu, r.host_mem, r.own_cpu_seconds, r.window_seconds, r.own_bytes,
                                  r.profiled, r.cpu, r.mem});
          }
          for (const auto& f : reports.failures)
            st.observer->on_warning("client " + std::to_string(f.id) + " sent no resource report: " + f.reason);
          // Servers are promoted by the cluster phase as it starts (a failed promotion is its
          // election).
          st.phase.registry().select_servers();
          self->state.report->clustering_seconds += since(self->state.phase_start);
          enter(self, cluster_rounds);
        });
    },
  };
}

} // namespace flotilla::actors::phases
