// Cluster rounds: round r of every live cluster through its promoted server, in parallel; a
// lost server is replaced and the round re-run; after each round the adaptive steps (CFL
// splits, IFCA reassignment) and, before late_join_round, the late joiners.
#include "actors/coordinator_phases.hpp"
#include "actors/blob_transfer.hpp"
#include "actors/liveness.hpp"
#include "actors/round_engine.hpp"

#include <utility>

namespace flotilla::actors::phases {

namespace {

void start_round(coordinator_actor* self, std::uint32_t round);

void after_round(coordinator_actor* self, std::uint32_t round) {
  auto& st = self->state;
  auto next = [self, round] {
    if (round < self->state.opt.experiment.rounds.cluster)
      start_round(self, round + 1);
    else
      enter(self, evaluation);
  };
  const auto& method = st.opt.experiment.clustering.method;
  if (method == "cfl")
    return apply_splits(self, round, next);
  if (method == "ifca" && round < st.opt.experiment.rounds.cluster)
    return reassign_by_loss(self, round, next);
  next();
}

void cluster_done(coordinator_actor* self) {
  if (--self->state.running == 0)
    after_round(self, self->state.round);
}

void record(coordinator_actor* self, std::uint32_t c, round_result& r) {
  auto& st = self->state;
  auto& rec = r.record;
  auto& rep = *st.report;
  rec.reassigned = st.reassigned.count(c) ? st.reassigned[c] : 0;
  rep.rounds.push_back(rec);
  rep.samples_trained += rec.samples * st.opt.epochs;
  rep.samples_evaluated += rec.evaluated;
  // Server: model out to the asked members and updates back, model out for evaluation to the
  // members that did not fail, result to us.
  auto members = st.registry.live_members(c).size();
  auto evaluated_members = members - std::min<std::size_t>(members, rec.failures);
  rep.bytes_moved += (rec.asked + rec.clients + evaluated_members + 1) * st.opt.model.parameters * sizeof(float);
  st.observer->on_round(rec);
  if (!rec.aggregated)
    st.observer->on_warning("cluster " + std::to_string(c) + " round " + std::to_string(rec.round) + ": " +
                            rec.not_aggregated + "; model kept");
  st.registry.record_round(c, rec.round, r.model.data, std::move(r.state));
  if (!r.split_off.empty())
    st.splits.emplace_back(c, std::move(r.split_off));
  if (c >= rep.clusters.size())
    rep.clusters.resize(c + 1); // a cluster a CFL split created
  rep.clusters[c].aggregator_actor = r.aggregator ? r.aggregator.id() : 0;
}

void run_cluster_round(coordinator_actor* self, std::uint32_t c, std::uint32_t round);

// The server did not deliver the round: it is lost, the next member serves, the round re-runs.
void server_failed(coordinator_actor* self, std::uint32_t c, std::uint32_t round, std::uint32_t server,
                   const std::string& why) {
  auto reason = "server " + std::to_string(server) + " lost in round " + std::to_string(round) + ": " + why;
  self->state.observer->on_warning("cluster " + std::to_string(c) + ": " + reason);
  client_lost(self, server, why);
  elect_and_promote(self, c, round, why, [self, c, round](bool ok) {
    if (ok)
      run_cluster_round(self, c, round);
    else
      cluster_done(self);
  });
}

void run_cluster_round(coordinator_actor* self, std::uint32_t c, std::uint32_t round) {
  auto& st = self->state;
  if (st.registry.cluster(c).failed)
    return cluster_done(self);
  auto server = st.registry.server_of(c);
  if (!server) // its server was lost between rounds
    return elect_and_promote(self, c, round, "server lost before round " + std::to_string(round),
                             [self, c, round](bool ok) {
                               if (ok)
                                 run_cluster_round(self, c, round);
                               else
                                 cluster_done(self);
                             });
  auto id = *server;
  auto handle = st.clients[id].handle;
  auto settled = std::make_shared<bool>(false);
  auto failed = [self, c, round, id, settled](const std::string& why) {
    if (!std::exchange(*settled, true))
      server_failed(self, c, round, id, why);
  };
  if (auto why = st.watch->gone(handle.address()))
    return failed("gone: " + *why);
  st.watch->ensure_monitored(handle);
  auto ticket = st.watch->watch(handle.address(), [failed](const std::string& why) { failed("gone: " + why); });
  // A server that hangs is found by its liveness probe within two intervals; the round's
  // deadline follows from the server's own steps and is only the backstop.
  auto members = member_peers(self, c);
  auto t = current_transfer_settings();
  auto limit = cluster_round_deadline_s(st.opt.experiment.rounds.timeout_s, members.size(), st.opt.model.parameters,
                                        t.chunk_floats, t.window, t.chunk_timeout_s);
  auto stop_probe = [self](caf::actor probe, std::uint64_t probe_ticket) {
    self->state.watch->forget(probe.address(), probe_ticket);
    self->send_exit(probe, caf::exit_reason::user_shutdown);
  };
  caf::actor probe;
  std::uint64_t probe_ticket = 0;
  if (st.opt.liveness_s > 0) {
    probe = self->spawn(liveness_probe, handle, st.opt.liveness_s, caf::actor_cast<caf::actor>(self));
    st.watch->ensure_monitored(probe);
    probe_ticket = st.watch->watch(probe.address(), [failed](const std::string& why) { failed(why); });
  }
  auto end_probe = [=] {
    if (probe)
      stop_probe(probe, probe_ticket);
  };
  self->request(handle, deadline(limit), cluster_round_atom::value, cluster_round_ins{round, members})
    .then(
      [=](round_result& r) {
        end_probe();
        self->state.watch->forget(handle.address(), ticket);
        if (*settled) {
          if (r.model.pending())
            release_blob(self, *r.model.ref);
          return;
        }
        // A server on another node sends a large cluster model as a reference: fetch it first.
        auto held = std::make_shared<round_result>(std::move(r));
        fetch_blob(self, held->model, self->state.opt.model.parameters, [=](std::string error, weight_blob model) {
          if (!error.empty())
            return failed("its cluster model could not be fetched: " + error);
          if (std::exchange(*settled, true))
            return;
          held->model = std::move(model);
          record(self, c, *held);
          cluster_done(self);
        });
      },
      [=](caf::error& err) {
        end_probe();
        self->state.watch->forget(handle.address(), ticket);
        // The server says the round cannot work with any server (training diverges, the
        // strategy cannot aggregate a cluster this size, a node's data or configuration): an
        // election would only repeat it, and going on would end the run with this cluster stuck
        // on its model. The run ends with the error's class (exit 4 for divergence, 2 for a
        // configuration the cluster cannot meet).
        if (auto code = code_of(err); code && repeats(code) && !std::exchange(*settled, true))
          return fail_run(self, *code == errc::bad_update ? errc::model_error : *code, text_of(self->system(), err));
        if (err == caf::sec::request_timeout)
          failed("no answer within the round's deadline (" + std::to_string(static_cast<int>(limit)) +
                 " s): hung or cut off");
        else
          failed(text_of(self->system(), err));
      });
}

void start_round(coordinator_actor* self, std::uint32_t round) {
  auto& st = self->state;
  const auto& ex = st.opt.experiment;
  save_checkpoint(self, "cluster", round - 1); // rounds before this one, and what followed them, are done
  if (ex.late_clients > 0 && !st.late_joined && round == ex.late_join_round) {
    st.late_joined = true;
    return wait_for_joins(self, [self, round] { join_late_clients(self, round, [self, round] { start_round(self, round); }); });
  }
  st.round = round;
  apply_faults(self, "cluster", round);
  std::vector<std::uint32_t> live;
  for (const auto& c : st.registry.clusters())
    if (!c.failed)
      live.push_back(c.id);
  st.observer->on_phase("cluster", "round " + std::to_string(round) + "/" + std::to_string(ex.rounds.cluster) + ", " +
                                     std::to_string(live.size()) + " clusters");
  if (live.empty())
    return enter(self, evaluation);
  st.running = live.size();
  for (auto c : live)
    run_cluster_round(self, c, round);
}

} // namespace

void resume_cluster_phase(coordinator_actor* self, std::uint32_t round) {
  auto& st = self->state;
  st.phase_start = std::chrono::steady_clock::now();
  self->become(cluster_rounds(self).or_else(common(self)));
  // The servers are new actors after a resume: promote them again with their clusters' state.
  std::vector<std::uint32_t> live;
  for (const auto& c : st.registry.clusters())
    if (!c.failed && c.server)
      live.push_back(c.id);
  auto left = std::make_shared<std::size_t>(live.size());
  auto go = [self, round] {
    if (round < self->state.opt.experiment.rounds.cluster)
      start_round(self, round + 1);
    else
      enter(self, evaluation);
  };
  if (live.empty())
    return go();
  for (auto c : live)
    promote(self, c, round, [left, go](bool) {
      if (--*left == 0)
        go();
    });
}

caf::message_handler cluster_rounds(coordinator_actor* self) {
  return {
    [=](next_atom) {
      auto& st = self->state;
      st.phase_start = std::chrono::steady_clock::now();
      st.report->clusters.assign(st.registry.clusters().size(), {});
      if (st.opt.experiment.rounds.cluster == 0) {
        save_checkpoint(self, "cluster", 0);
        return enter(self, evaluation);
      }
      start_round(self, 1);
    },
  };
}

} // namespace flotilla::actors::phases
