// Cluster rounds: fl::cluster_phase decides (who is promoted, which cluster runs which round,
// where the clusters meet), this file carries its commands out and feeds the results back. Each
// cluster's server runs its rounds on its own; a lost server is replaced and its round re-run.
#include "actors/coordinator_phases.hpp"
#include "actors/blob_transfer.hpp"
#include "actors/liveness.hpp"
#include "actors/async_steps.hpp"
#include "actors/round_engine.hpp"

#include <utility>

namespace flotilla::actors::phases {

namespace {

// Seconds into the cluster phase: the clock the phase's events are stamped with.
double now(coordinator_actor* self) {
  return since(self->state.phase_start);
}

void run_cluster_round(coordinator_actor* self, std::uint32_t c, std::uint32_t round) {
  auto& st = self->state;
  auto server = st.phase.registry().server_of(c);
  if (!server) // the phase runs a round only with a server; lost since, it is elected when found
    return carry_out(self, st.phase.server_lost(c, round, static_cast<std::uint32_t>(std::max<std::int64_t>(
                                                             0, st.phase.registry().cluster(c).last_server)),
                                                "lost before its round started", now(self)));
  auto id = *server;
  auto failed_now = [self, c, round, id](const std::string& why) {
    carry_out(self, self->state.phase.server_lost(c, round, id, why, now(self)));
  };
  auto handle = st.clients[id].handle;
  auto settled = std::make_shared<bool>(false);
  auto failed = [failed_now, settled](const std::string& why) {
    if (!std::exchange(*settled, true))
      failed_now(why);
  };
  if (!handle)
    return failed("no actor (its node is gone)");
  if (auto why = st.watch->gone(handle.address()))
    return failed("gone: " + *why);
  st.watch->ensure_monitored(caf::actor_cast<caf::actor>(handle));
  auto ticket = st.watch->watch(handle.address(), [failed](const std::string& why) { failed("gone: " + why); });
  // A server that hangs is found by its liveness probe within two intervals; the round's
  // deadline follows from the server's own steps and is only the backstop.
  auto members = member_peers(self, c);
  auto t = current_transfer_settings();
  const auto& experiment = st.opt.experiment;
  std::size_t secure_steps =
    !experiment.privacy.secure_aggregation ? 0 : experiment.async.mode == "buffered" ? 5 : 4;
  auto limit = cluster_round_deadline_s(experiment.rounds.timeout_s, members.size(), st.opt.model.parameters, t.chunk_floats,
                                        t.window, t.chunk_timeout_s, secure_steps);
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
  cluster_round_ins ins{round, members, self->state.durable_step, st.phase.registry().cluster(c).sim_time_s,
                        st.opt.experiment.rounds.sim_deadline_s, st.phase.clip_of(c), {}};
  // Secure aggregation: the coordinator registers the cluster model it holds for this round,
  // under the term that runs it; the members check the model their server sends against it.
  const auto& cluster = st.phase.registry().cluster(c);
  if (st.opt.experiment.privacy.secure_aggregation && st.opt.registrar && cluster.model) {
    fl::round_record header;
    header.phase = "cluster";
    header.cluster = c;
    header.round = round;
    header.term = cluster.term;
    if (st.opt.experiment.async.mode != "buffered") {
      ins.model_registration = registration_wire::of(
        register_model(*st.opt.registrar, secure_session(st.opt.experiment.seed, header), *cluster.model));
    } else {
      // FedBuff: the step's model is version round - 1; its fits in flight were sent older ones.
      // No round registration: a server could otherwise run a synchronous secure round that
      // trains the same update again (the same member, model and seed) and subtract two sums.
      auto sign = [&](std::uint64_t version, const std::vector<float>& model) {
        ins.versions.push_back({version, registration_wire::of(register_model(
                                           *st.opt.registrar,
                                           buffered_fit_session(st.opt.experiment.seed, header, version), model))});
      };
      sign(round - 1, *cluster.model);
      for (const auto& [version, model] : cluster.async.versions)
        if (version != round - 1 && model)
          sign(version, *model);
    }
  }
  self->request(handle, deadline(limit), cluster_round_atom::value, std::move(ins))
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
          // strategy.mode=buffered|async: the models its fits in flight were sent, likewise;
          // bounded before anything is fetched (a server cannot make us hold more models than
          // strategy.concurrency, nor record more updates than a step takes).
          const auto& ex = self->state.opt.experiment;
          const auto& w = held->in_flight;
          std::size_t most = ex.async.asynchronous() ? ex.async.concurrency : 0;
          std::size_t step = ex.async.mode == "buffered" ? ex.async.buffer : ex.async.mode == "async" ? 1 : 0;
          if (ex.async.mode == "buffered" && ex.privacy.secure_aggregation) // it waits for min_cluster members
            step = std::max<std::size_t>(step, ex.privacy.min_cluster * secure_sessions::max_holds);
          if (w.version_ids.size() != w.versions.size() || w.versions.size() > w.flights.size() ||
              w.flights.size() > most || held->record.staleness.size() > step)
            return failed("its fits in flight: " + std::to_string(w.flights.size()) + " fits, " +
                          std::to_string(w.versions.size()) + " models, " +
                          std::to_string(held->record.staleness.size()) + " updates in the step: more than " +
                          "strategy.mode=" + ex.async.mode + " allows");
          fetch_blobs(self, held->in_flight.versions, self->state.opt.model.parameters,
                      [=](std::string error, std::vector<weight_blob> versions) mutable {
            if (!error.empty())
              return failed("the models of its fits in flight could not be fetched: " + error);
            if (*settled)
              return;
            auto& st = self->state;
            const auto& ex = st.opt.experiment;
            held->in_flight.versions = std::move(versions);
            auto async = from_wire(held->in_flight);
            auto why = fl::check_async_state(async, held->record.round, ex.async.asynchronous() ? ex.async.concurrency : 0,
                                             st.opt.model.parameters, ex.total_clients());
            if (!why.empty())
              return failed("its fits in flight: " + why);
            // privacy.adaptive_clip: the next clip follows this fraction (cluster_phase::account).
            if (auto f = held->record.clip_fraction; !(f == -1.0 || (f >= 0 && f <= 1)))
              return failed("its round's clip_fraction (" + std::to_string(f) + ") is not a fraction");
            if (auto clip = st.phase.clip_of(c); clip > 0 && held->record.clip != clip)
              return failed("its round records clip " + std::to_string(held->record.clip) + ", not the " +
                            std::to_string(clip) + " it was given");
            *settled = true;
            fl::round_report done{std::move(held->record), std::move(model.data), std::move(held->state),
                                  held->aggregator ? held->aggregator.id() : 0, std::move(held->split_off),
                                  std::move(async)};
            done.record.sim_time_s = run_clock(self, done.record.sim_time_s);
            carry_out(self, st.phase.round_finished(c, std::move(done), st.opt.model.parameters, st.opt.epochs, now(self)));
          });
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

} // namespace

void carry_out(coordinator_actor* self, fl::phase_commands commands) {
  using kind = fl::phase_command::kind;
  // A command whose result comes at once (a promotion refused on the spot) feeds the phase while
  // the commands before it are still being carried out: its commands queue behind them.
  auto& queue = self->state.commands;
  for (auto& cmd : commands)
    queue.push_back(std::move(cmd));
  if (std::exchange(self->state.carrying_out, true))
    return;
  while (!queue.empty()) {
    auto cmd = std::move(queue.front());
    queue.pop_front();
    auto& st = self->state;
    switch (cmd.what) {
    case kind::promote: {
      auto c = cmd.cluster;
      promote(self, c, cmd.demote, [self, c](std::string why) {
        auto& st = self->state;
        carry_out(self, why.empty() ? st.phase.promoted(c, now(self)) : st.phase.promotion_failed(c, why, now(self)));
      });
      break;
    }
    case kind::start_round:
      apply_faults(self, "cluster", cmd.round, cmd.cluster);
      break;
    case kind::run_round:
      run_cluster_round(self, cmd.cluster, cmd.round);
      break;
    case kind::ask_losses:
      ask_losses(self, cmd.round, cmd.clusters);
      break;
    case kind::join_late:
      wait_for_joins(self, [self, round = cmd.round] { join_late_clients(self, round); });
      break;
    case kind::checkpoint:
      save_checkpoint(self, "cluster", cmd.round);
      break;
    case kind::round_done:
      st.observer->on_round(cmd.record);
      break;
    case kind::event:
      st.observer->on_event(cmd.text);
      break;
    case kind::warning:
      st.observer->on_warning(cmd.text);
      break;
    case kind::finish:
      enter(self, evaluation);
      break;
    }
  }
  self->state.carrying_out = false;
}

void resume_cluster_phase(coordinator_actor* self) {
  auto& st = self->state;
  st.phase_start = std::chrono::steady_clock::now();
  self->become(cluster_rounds(self).or_else(common(self)));
  carry_out(self, st.phase.start(0, true));
}

caf::message_handler cluster_rounds(coordinator_actor* self) {
  return {
    [=](next_atom, std::uint32_t) {
      auto& st = self->state;
      st.phase_start = std::chrono::steady_clock::now();
      st.report->clusters.assign(st.phase.registry().clusters().size(), {});
      const auto& ex = st.opt.experiment;
      st.observer->on_phase("cluster", std::to_string(st.phase.registry().clusters().size()) + " clusters, " +
                                         std::to_string(ex.rounds.cluster) + " rounds each, " +
                                         (ex.rounds.cluster_lockstep ? "in lock step" : "each at its own pace"));
      st.phase.registry().start_clocks(st.report->sim_time_s); // every cluster sets out from the initial phase's end
      carry_out(self, st.phase.start(0, false));
    },
  };
}

} // namespace flotilla::actors::phases
