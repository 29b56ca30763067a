#include "actors/client.hpp"
#include "fl/privacy/dp_clip.hpp"
#include "actors/client_layers.hpp"

#include "actors/blob_transfer.hpp"
#include "actors/errors.hpp"
#include "actors/exception_policy.hpp"
#include "actors/fan_out.hpp"
#include "actors/async_steps.hpp"
#include "actors/round_engine.hpp"
#include "actors/server_async.hpp"
#include "common/atomic_file.hpp"
#include "common/small_file.hpp"
#include "fl/cfl.hpp"
#include "fl/layer_history.hpp"
#include "fl/local_layers.hpp"
#include "fl/privacy/dp_fedavg.hpp"
#include "fl/seeds.hpp"

#include <filesystem>

namespace flotilla::actors {

namespace {

// Internal: the end of an injected hang; a slow client's delayed answer.
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using release_atom = caf::atom_constant<caf::atom("release")>;

caf::behavior as_client(client_actor* self);
caf::behavior as_server(client_actor* self);

// Swallows every request without answering: the requester sees only its deadline pass.
caf::result<caf::message> swallow(caf::scheduled_actor*, caf::message_view&) {
  return caf::delegated<caf::message>{};
}

// An injected fault (config `faults`), applied at once. Sent without a request: nothing answers.
void inject(client_actor* self, const std::string& kind, double seconds) {
  auto& st = self->state;
  if (kind == "crash") {
    // The actor quits, and with it any server role: its peers see it go DOWN.
    self->quit(make_error(errc::injected_fault, "client " + std::to_string(st.id) + " crashed (injected)"));
  } else if (kind == "crash_in_secagg") {
    // Crashes in the middle of its next secure aggregation: as a member right after sending its
    // masked input, as a cluster server once the masked inputs are in (before unmasking).
    st.crash_in_secagg = true;
  } else if (kind == "inconsistent_model") {
    // As a cluster server, its next secure round sends one member a model other than the one the
    // coordinator registered (the model-inconsistency attack), which that member must refuse.
    st.inconsistent_model = true;
  } else if (kind == "slow") {
    st.slow_s = seconds;
  } else if (kind == "hang") {
    self->set_default_handler(swallow);
    self->become(caf::keep_behavior, caf::behavior{[=](wake_atom) {
                   self->set_default_handler(drop_unexpected);
                   self->unbecome();
                 }});
    if (seconds > 0)
      self->delayed_send(self, after(seconds), wake_atom::value);
  }
}

// The handlers every client has, promoted or not.
caf::message_handler client_handlers(client_actor* self) {
  return {
    [=](fit_atom, const fit_ins& in) {
      auto& st = self->state;
      if (!st.first_fit)
        st.first_fit = std::chrono::steady_clock::now();
      auto rp = self->make_response_promise<fit_result>();
      // Weights from another process may still be at their sender: fetch them first.
      fetch_blob(self, in.weights, st.ctx->model.parameters, [=](std::string error, weight_blob w) mutable {
        if (!error.empty()) {
          rp.deliver(make_error(errc::round_failed, "client " + std::to_string(self->state.id) +
                                                      ": the round's model could not be fetched: " + error));
          return;
        }
        if (in.secure_session != 0) {
          // Secure aggregation: train only on the model the coordinator registered for the round.
          try {
            self->state.secure.check_model(in.secure_session, w.values(), in.model_registration.bytes());
          } catch (const std::exception& e) {
            rp.deliver(make_error(errc::round_failed, "client " + std::to_string(self->state.id) + ": " + e.what()));
            return;
          }
        }
        auto local = in;
        bool found = false;
        if (auto why = load_layers(self, in.step, found); !why.empty()) {
          rp.deliver(make_error(errc::data_error, why));
          return;
        }
        // Under FedBN a round starts from the layers of the rounds before it (also when it runs
        // again after its server was lost).
        local.weights = personal(self, w, self->state.layers.before(in.step));
        // The pool is on this node and always answers (a result or an error); the deadline is
        // on the request that reached this client, which also covers the wait for a trainer.
        self->request(self->state.pool, caf::infinite, train_atom::value, self->state.id, local)
          .then(
            [=](fit_result& r) mutable {
              self->state.cpu_seconds += r.cpu_seconds;
              auto& st = self->state;
              if (const auto& ranges = kept_layers(self); !ranges.empty()) {
                // FedBN: the trained BatchNorm layers stay here, on this machine's disk too (a
                // resume needs them); the model's own values leave.
                auto trained = r.weights.values();
                st.layers.put(in.step, fl::local_part(trained, ranges), in.durable);
                if (auto why = save_layers(self); !why.empty()) {
                  rp.deliver(make_error(errc::training_failed, "client " + std::to_string(st.id) +
                                                                 " cannot keep its BatchNorm layers: " + why));
                  return;
                }
                fl::keep_local(trained, w.values(), ranges);
                r.weights = weight_blob(r.weights.layout, std::move(trained));
              }
              if (in.secure_session != 0 && in.secure_ticket != 0) {
                // strategy.mode=buffered under secure aggregation: the update stays here until a
                // server step commits it with its staleness weight (secure_sessions::commit).
                try {
                  st.secure.hold(in.secure_session, in.secure_ticket, in.config.round - 1, r.samples, w.values(),
                                 r.weights.values());
                } catch (const std::exception& e) {
                  rp.deliver(make_error(errc::bad_update, "client " + std::to_string(st.id) + ": " + e.what()));
                  return;
                }
                r.secure_bits = 0;
                r.weights = weight_blob(r.weights.layout, std::vector<float>{});
              } else if (in.secure_session != 0) {
                // Secure aggregation: the update stays here, kept as the integers it will mask,
                // and only its size on the ring leaves with the answer.
                try {
                  r.secure_bits = st.secure.keep(in.secure_session, st.id, in.secure_uniform ? 1 : r.samples,
                                                 w.values(), r.weights.values(), in.secure_noise,
                                                 {st.ctx->seed, in.noise_point, in.noise_round, st.id},
                                                 {in.report_clip, r.within_clip, in.count_noise});
                  r.within_clip = false; // it is in the masked input: nobody sees it alone
                } catch (const std::exception& e) {
                  rp.deliver(make_error(errc::bad_update, "client " + std::to_string(st.id) + ": " + e.what()));
                  return;
                }
                r.weights = weight_blob(r.weights.layout, std::vector<float>{});
              }
              if (st.slow_s <= 0 || st.ctx->clock) { // clock=virtual: the delay is simulated, not slept
                r.sim_delay_s = st.ctx->clock ? st.slow_s : 0.0;
                rp.deliver(std::move(r));
                return;
              }
              auto ticket = st.next_delayed++;
              st.delayed.emplace(ticket, std::make_pair(rp, std::move(r)));
              self->delayed_send(self, after(st.slow_s), release_atom::value, ticket);
            },
            [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      });
      return rp;
    },
    // One secure aggregation step of a round this client trained for (secure_sessions).
    [=](secagg_atom, const secagg_msg& m) -> caf::result<secagg_msg> {
      auto& st = self->state;
      try {
        if (m.stage == commit_stage) // a buffered step names the fits this client holds
          return secagg_msg{m.session, m.stage, {st.secure.commit(m.session, st.id, decode_commit(m.bytes))}};
        secagg_msg answer{m.session, m.stage, st.secure.step(m.session, m.stage, m.bytes)};
        if (m.stage == 2 && st.crash_in_secagg) { // the injected fault: gone once its masked input is out
          auto rp = self->make_response_promise<secagg_msg>();
          rp.deliver(std::move(answer));
          self->quit(make_error(errc::injected_fault, "client " + std::to_string(st.id) +
                                                        " crashed after sending its masked input (injected)"));
          return rp;
        }
        return answer;
      } catch (const std::exception& e) {
        return make_error(errc::round_failed, "client " + std::to_string(st.id) + ": " + e.what());
      }
    },
    [=](release_atom, std::uint64_t ticket) {
      auto it = self->state.delayed.find(ticket);
      if (it == self->state.delayed.end())
        return;
      it->second.first.deliver(std::move(it->second.second));
      self->state.delayed.erase(it);
    },
    // Models from another process may still be at their sender: fetched before the pool sees them.
    [=](evaluate_atom, const weight_blob& w) {
      auto rp = self->make_response_promise();
      fetch_blob(self, w, self->state.ctx->model.parameters, [=](std::string error, weight_blob local) mutable {
        if (!error.empty())
          return rp.deliver(make_error(errc::round_failed, "the model to evaluate could not be fetched: " + error));
        bool found = false;
        if (auto why = load_layers(self, std::nullopt, found); !why.empty())
          return rp.deliver(make_error(errc::data_error, why));
        rp.delegate(self->state.pool, assess_atom::value, self->state.id, personal(self, local));
      });
      return rp;
    },
    [=](losses_atom, const std::vector<weight_blob>& models) {
      auto rp = self->make_response_promise();
      fetch_blobs(self, models, self->state.ctx->model.parameters,
                  [=](std::string error, std::vector<weight_blob> local) mutable {
                    if (!error.empty())
                      return rp.deliver(make_error(errc::round_failed, "the models could not be fetched: " + error));
                    bool found = false;
                    if (auto why = load_layers(self, std::nullopt, found); !why.empty())
                      return rp.deliver(make_error(errc::data_error, why));
                    for (auto& m : local)
                      m = personal(self, m);
                    rp.delegate(self->state.pool, score_atom::value, self->state.id, std::move(local));
                  });
      return rp;
    },
    [=](resources_atom) {
      auto& st = self->state;
      auto [cpu, mem] = st.ctx->host->sample();
      double window = st.first_fit
                        ? std::chrono::duration<double>(std::chrono::steady_clock::now() - *st.first_fit).count()
                        : 0.0;
      return make_resource_report(st.id, *st.ctx, st.cpu_seconds, window, cpu, mem);
    },
    [=](fault_atom, const std::string& kind, double seconds) { inject(self, kind, seconds); },
    [=](ping_atom) { return ping_atom::value; }, // liveness: answered unless the actor hangs
    [=](restore_atom, std::uint64_t step, bool trained) { return restore_layers(self, step, trained); },
    [=](promote_atom, server_role& role) -> caf::result<std::uint32_t> {
      if (role.model.pending()) { // the cluster's model is still at the coordinator: fetch it first
        auto rp = self->make_response_promise();
        fetch_blob(self, role.model, self->state.ctx->model.parameters,
                   [=, role = role](std::string error, weight_blob model) mutable {
                     if (!error.empty())
                       return rp.deliver(make_error(errc::round_failed, "cannot serve the cluster: its model could "
                                                                        "not be fetched: " + error));
                     role.model = std::move(model);
                     rp.delegate(caf::actor_cast<caf::actor>(self), promote_atom::value, std::move(role));
                   });
        return caf::delegated<std::uint32_t>{};
      }
      auto& versions = role.in_flight.versions;
      if (std::any_of(versions.begin(), versions.end(), [](const weight_blob& b) { return b.pending(); })) {
        // The models its fits in flight were sent (strategy.mode=buffered|async), likewise.
        auto rp = self->make_response_promise();
        fetch_blobs(self, versions, self->state.ctx->model.parameters,
                    [=, role = role](std::string error, std::vector<weight_blob> models) mutable {
                      if (!error.empty())
                        return rp.deliver(make_error(errc::round_failed, "cannot serve the cluster: the models of its "
                                                                         "fits in flight could not be fetched: " + error));
                      role.in_flight.versions = std::move(models);
                      rp.delegate(caf::actor_cast<caf::actor>(self), promote_atom::value, std::move(role));
                    });
        return caf::delegated<std::uint32_t>{};
      }
      if (auto why = check_promoted_flights(role, self->state.ctx->model.parameters); !why.empty())
        return make_error(errc::round_failed, "cannot serve the cluster: its fits in flight: " + why);
      try {
        auto strategy = fl::make_strategy(role.strategy);
        strategy->restore(role.state, role.model.size());
        auto model = role.model;
        if (self->state.server && self->state.server->steps) // promoted again: the old steps end
          self->state.server->steps->stop();
        self->state.server = server_state{std::move(role), std::move(strategy), std::move(model), nullptr};
      } catch (const std::exception& e) {
        return make_error(errc::config_error, std::string("cannot serve the cluster: ") + e.what());
      }
      // Promotion in place: this same actor now also aggregates its cluster.
      self->become(as_server(self));
      return self->state.id;
    },
    // The server role's requests reach a client that does not serve (never promoted, or demoted
    // since): an answer, as its typed handle promises, not an unexpected message. While it
    // serves, server_handlers take them first.
    [=](cluster_round_atom, const cluster_round_ins& ins) -> caf::result<round_result> {
      return make_error(errc::round_failed, "client " + std::to_string(self->state.id) + " does not serve a cluster "
                                            "(round " + std::to_string(ins.round) + " asked of it)");
    },
    [=](demote_atom) {},
  };
}

// CFL's criterion on this round's updates, taken relative to the model the round started from.
fl::cfl_decision cfl_of(const fl::round_updates& updates, const std::vector<float>& start, const server_role& role) {
  std::vector<std::uint32_t> ids;
  std::vector<std::vector<float>> deltas;
  for (const auto& [id, u] : updates.kept()) {
    ids.push_back(id);
    std::vector<float> d(start.size());
    for (std::size_t i = 0; i < d.size(); ++i)
      d[i] = (*u.weights)[i] - start[i];
    deltas.push_back(std::move(d));
  }
  std::vector<const float*> views;
  for (const auto& d : deltas)
    views.push_back(d.data());
  return fl::cfl_check(ids, views, start.size(), role.cfl_eps1, role.cfl_eps2, role.cfl_min_size);
}

// A promoted client's aggregator handlers: one cluster round through the round engine,
// evaluated on the members' local test splits.
caf::message_handler server_handlers(client_actor* self) {
  return {
    [=](cluster_round_atom, const cluster_round_ins& ins) -> caf::result<round_result> {
      if (self->state.server->role.async.asynchronous())
        return async_cluster_round(self, ins);
      auto rp = self->make_response_promise<round_result>();
      auto& srv = *self->state.server;
      round_inputs in;
      in.header.phase = "cluster";
      in.header.round = ins.round;
      in.header.cluster = srv.role.cluster;
      in.header.server = self->state.id;
      in.header.term = srv.role.term;
      in.available = ins.members;
      in.model = srv.model;
      in.fraction_fit = srv.role.fraction_fit;
      in.quorum = srv.role.quorum;
      in.timeout_s = srv.role.timeout_s;
      in.sampling_seed = fl::sampling_seed(srv.role.seed, srv.role.cluster + 1, ins.round);
      in.keep_updates = srv.role.cfl; // CFL's split looks at every member's update
      if (srv.role.dp_sigma > 0) // privacy.dp at this aggregation point: noise keyed by (seed, cluster + 1, round)
        in.dp = dp_round{srv.role.dp_sigma, fl::privacy::clip_now(ins.dp_clip, srv.role.dp_clip), // 0 unless adaptive
                         srv.role.dp_distributed, srv.role.dp_adaptive, srv.role.seed, srv.role.cluster + 1};
      in.secure = server_secure_setup(self, ins.model_registration.bytes());
      if (std::exchange(self->state.inconsistent_model, false))
        in.secure.tamper_fit = inconsistent_model;
      in.stragglers = srv.role.stragglers;
      in.keep_stragglers = srv.role.keep_stragglers;
      in.epochs = srv.role.epochs;
      in.durable = ins.durable;
      if (const auto& clock = self->state.ctx->clock) // the cluster's clock; this device's link and speed
        in.sim = virtual_round{ins.sim_start, clock, static_cast<std::int64_t>(self->state.id), ins.sim_deadline_s};
      auto members = ins.members;
      auto timeout = srv.role.timeout_s;
      auto evaluate = [self, members, timeout](const weight_blob& model, const std::vector<failure>& failed,
                                               std::function<void(eval_summary)> cb) {
        std::vector<peer> reachable;
        for (const auto& m : members)
          if (std::none_of(failed.begin(), failed.end(), [&](const failure& f) { return f.id == m.id && !f.alive; }))
            reachable.push_back(m);
        fan_out<eval_result>(*self->state.watch, reachable, timeout,
                             [model](const peer&) { return std::make_tuple(evaluate_atom::value, model); },
                             [cb](fan_in<eval_result>& evals) { cb(combine(evals.results)); });
      };
      auto start = srv.model;
      auto strategy = srv.strategy;
      const auto cluster = srv.role.cluster;
      const auto term = srv.role.term;
      run_round(*self->state.watch, *strategy, std::move(in), evaluate, [=, keep = strategy](round_outcome out) mutable {
        // Demoted (a new server was elected: this one was thought lost) or promoted anew while the
        // round ran: its result belongs to a term that has ended.
        const auto& now = self->state.server;
        if (!now || now->role.cluster != cluster || now->role.term != term) {
          rp.deliver(make_error(errc::round_failed, "client " + std::to_string(self->state.id) + " no longer serves "
                                                    "cluster " + std::to_string(cluster) + " in term " +
                                                    std::to_string(term) + ": round " + std::to_string(ins.round) +
                                                    " dropped"));
          return;
        }
        if (out.fatal) {
          // Another round would meet the same failure (see round_fatal_error): the coordinator
          // ends the run with this error's class instead of electing a new server.
          auto code = code_of(*out.fatal).value_or(errc::round_failed);
          // A strategy that cannot aggregate this cluster's rounds may fit larger clusters.
          auto hint = code == errc::config_error ? std::string(", or make clusters larger (a smaller clustering.k)") : "";
          rp.deliver(make_error(code, "cluster " + std::to_string(self->state.server->role.cluster) + " round " +
                                        std::to_string(ins.round) + ": " + text_of(self->system(), *out.fatal) + hint));
          return;
        }
        auto& srv = *self->state.server;
        srv.model = out.model;
        round_result res{std::move(out.record), out.model, srv.strategy->state(), self->address(), {}, {}};
        if (srv.role.cfl && out.updates && out.updates->count() > 0) {
          auto d = cfl_of(*out.updates, start.values(), srv.role);
          res.record.update_norm_mean = d.mean_norm;
          res.record.update_norm_max = d.max_norm;
          if (d.split)
            res.split_off = d.second;
        }
        rp.deliver(std::move(res));
      });
      return rp;
    },
    [=](demote_atom) { // sent without a request by the coordinator after an election
      if (self->state.server->steps) // its fits in flight go to the next server
        self->state.server->steps->stop();
      self->state.server.reset();
      self->become(as_client(self));
    },
  };
}

caf::behavior as_client(client_actor* self) {
  return client_handlers(self);
}

caf::behavior as_server(client_actor* self) {
  return server_handlers(self).or_else(client_handlers(self));
}

} // namespace

void inconsistent_model(fit_ins& f) {
  auto w = f.weights.values();
  w.at(0) += 0.01f;
  f.weights = weight_blob{f.weights.layout, std::move(w)};
}

secure_setup server_secure_setup(client_actor* self, std::vector<std::uint8_t> registration) {
  const auto& role = self->state.server->role;
  secure_setup out{role.secure, static_cast<std::int64_t>(self->state.id), role.min_cluster, role.seed,
                   std::move(registration)};
  out.before_stage = [self](std::uint8_t stage) {
    if (stage != 3 || !self->state.crash_in_secagg)
      return true;
    // The injected fault: the masked inputs are in, the sum is not unmasked.
    self->quit(make_error(errc::injected_fault, "cluster server " + std::to_string(self->state.id) +
                                                  " crashed before unmasking its round's sum (injected)"));
    return false;
  };
  return out;
}

resource_report make_resource_report(std::uint32_t id, const node_context& ctx, double own_cpu_seconds,
                                     double window_seconds, double host_cpu, double host_mem) {
  resource_report r;
  r.client_id = id;
  r.host_cpu = host_cpu;
  r.host_mem = host_mem;
  r.own_cpu_seconds = own_cpu_seconds;
  r.window_seconds = window_seconds;
  r.host_cores = ctx.cores;
  const auto& part = ctx.partitions().at(id);
  auto samples = part.train_size() + part.test_size();
  // data (normalized floats + label) + model + gradients + momentum buffer
  r.own_bytes = samples * (ctx.data->train.sample_size() * sizeof(float) + sizeof(std::int64_t)) +
                3 * ctx.model.parameters * sizeof(float);
  double own_cpu = window_seconds > 0 ? 100.0 * own_cpu_seconds / (window_seconds * ctx.cores) : 0.0;
  double own_mem = 100.0 * static_cast<double>(r.own_bytes) /
                   static_cast<double>(std::max<std::uint64_t>(1, ctx.host->memory_total_bytes()));
  const auto& profile = id < ctx.profiles.size() ? ctx.profiles[id] : client_profile{};
  r.profiled = profile.active;
  r.cpu = (profile.active ? profile.cpu : host_cpu) + own_cpu;
  r.mem = (profile.active ? profile.mem : host_mem) + own_mem;
  if (ctx.clock && profile.active) { // clock=virtual: the device's (or selection.profiles') readings
    r.cpu = profile.cpu;              // alone, the same on any machine and in any run
    r.mem = profile.mem;
  }
  return r;
}

caf::behavior client(client_actor* self, std::uint32_t id, std::shared_ptr<const node_context> ctx,
                     trainer_pool_handle pool) {
  self->state.id = id;
  self->state.ctx = std::move(ctx);
  self->state.pool = std::move(pool);
  self->state.secure = secure_sessions(self->state.ctx->secure_min_members, self->state.ctx->registrar_key,
                                       self->state.ctx->seed, self->state.ctx->async);
  std::size_t floats = 0;
  for (const auto& r : kept_layers(self))
    floats += r.second;
  self->state.layers = fl::layer_history(floats);
  self->state.watch = down_watch::install(self);
  self->set_default_handler(drop_unexpected);
  end_on_exception(self, "flotilla.client " + std::to_string(id));
  return as_client(self);
}

} // namespace flotilla::actors
