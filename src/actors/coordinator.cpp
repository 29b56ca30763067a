#include "actors/coordinator.hpp"

#include <algorithm>

#include "actors/coordinator_phases.hpp"
#include "actors/exception_policy.hpp"
#include "actors/round_engine.hpp"
#include "actors/fan_out.hpp"
#include "fl/cluster_methods.hpp"
#include "fl/layer_history.hpp"
#include "fl/privacy/dp_clip.hpp"
#include "fl/privacy/dp_fedavg.hpp"
#include "fl/privacy/rdp_accountant.hpp"
#include "fl/seeds.hpp"
#include "fl/sketch.hpp"

namespace flotilla::actors {

namespace phases {

namespace {

// Tells the fault's client about it, when that client has an actor; false otherwise. Sent
// before the round's requests: the target applies it first (messages between two actors keep
// their order, locally and across nodes).
bool inject(coordinator_actor* self, const fl::applied_fault& f, const std::string& when) {
  auto& st = self->state;
  if (f.client < 0 || static_cast<std::size_t>(f.client) >= st.clients.size())
    return false;
  const auto& target = st.clients[static_cast<std::size_t>(f.client)];
  if (!target.handle)
    return false;
  self->send(target.handle, fault_atom::value, f.kind, f.seconds);
  st.observer->on_event("injected fault: " + f.kind + " of client " + std::to_string(f.client) + " (" + f.target +
                        ") " + when);
  return true;
}

} // namespace

void apply_faults(coordinator_actor* self, const std::string& phase, std::uint32_t round, std::uint32_t cluster) {
  auto& st = self->state;
  const auto& reg = st.phase.registry();
  // The cluster whose start carries the faults of clients in no cluster: the lowest live one.
  auto lowest_live = fl::no_cluster;
  for (const auto& c : reg.clusters())
    if (!c.failed) {
      lowest_live = c.id;
      break;
    }
  for (const auto& f : st.opt.experiment.faults) {
    if (f.phase != phase || f.round != round)
      continue;
    if (cluster != fl::no_cluster) {
      if (f.server_of >= 0 && static_cast<std::uint32_t>(f.server_of) != cluster)
        continue;
      if (f.client >= 0) {
        auto id = static_cast<std::uint32_t>(f.client);
        auto home = reg.clients().count(id) ? reg.cluster_of(id) : std::nullopt;
        if (home ? *home != cluster : cluster != lowest_live)
          continue;
      }
    }
    fl::applied_fault a{f.client >= 0 ? std::to_string(f.client) : "server:" + std::to_string(f.server_of), -1,
                        f.kind, f.phase, f.round, f.seconds};
    if (f.client >= 0) {
      a.client = f.client;
    } else if (static_cast<std::size_t>(f.server_of) < reg.clusters().size()) {
      if (auto s = reg.server_of(static_cast<std::uint32_t>(f.server_of)))
        a.client = *s;
    }
    // Applied before the checkpoint a resume started from (and applied again by it).
    auto same = [&](const fl::applied_fault& b) {
      return b.target == a.target && b.kind == a.kind && b.phase == a.phase && b.round == a.round;
    };
    if (std::any_of(st.report->faults.begin(), st.report->faults.end(), same))
      continue;
    if (!inject(self, a, "before " + phase + " round " + std::to_string(round))) {
      st.observer->on_warning("fault " + a.target + " (" + f.kind + ") in " + phase + " round " + std::to_string(round) +
                              " has no target: nothing injected");
    }
    st.report->faults.push_back(a);
  }
}

std::vector<peer> member_peers(coordinator_actor* self, std::uint32_t c) {
  std::vector<peer> out;
  for (auto id : self->state.phase.registry().live_members(c))
    if (self->state.clients[id].handle)
      out.push_back(self->state.clients[id]);
  return out;
}

void client_lost(coordinator_actor* self, std::uint32_t id, const std::string& reason) {
  auto& st = self->state;
  if (st.phase.registry().clusters().empty() || !st.phase.registry().clients().count(id)) {
    st.lost_early.insert(id);
    return;
  }
  st.phase.client_lost(id, reason);
}

using join_timeout_atom = caf::atom_constant<caf::atom("joinwait")>;

caf::message_handler common(coordinator_actor* self) {
  return {
    // A node that joined (flotilla node --join) hosts these late clients now.
    [=](arrived_atom, const std::vector<peer>& peers) {
      auto& st = self->state;
      for (const auto& p : peers)
        if (p.id >= st.opt.experiment.clients && p.id < st.clients.size() && p.handle && !st.clients[p.id].handle) {
          st.clients[p.id] = p;
          st.id_of[p.handle.address()] = p.id;
        }
      st.observer->on_event("a node joined with " + std::to_string(peers.size()) + " late clients");
      if (st.join_waiting && all_late_present(self))
        std::exchange(st.join_waiting, {})();
    },
    [=](join_timeout_atom) {
      if (self->state.join_waiting)
        std::exchange(self->state.join_waiting, {})();
    },
  };
}

bool all_late_present(coordinator_actor* self) {
  auto& st = self->state;
  for (auto id = st.opt.experiment.clients; id < st.opt.experiment.total_clients(); ++id)
    if (!st.clients[id].handle)
      return false;
  return true;
}

void wait_for_joins(coordinator_actor* self, std::function<void()> then) {
  auto& st = self->state;
  if (all_late_present(self))
    return then();
  st.observer->on_event("waiting up to " + std::to_string(static_cast<int>(st.opt.experiment.rounds.timeout_s)) +
                        " s for a node to join with the late clients (flotilla node --join)");
  st.join_waiting = std::move(then);
  self->delayed_send(self, after(st.opt.experiment.rounds.timeout_s), join_timeout_atom::value);
}

void save_checkpoint(coordinator_actor* self, const std::string& phase, std::uint32_t round) {
  auto& st = self->state;
  fl::checkpoint cp;
  cp.phase = phase;
  cp.round = round;
  cp.global = st.global.values();
  cp.strategy = st.strategy->state();
  cp.samples_of = st.samples_of;
  cp.clusters = st.phase.registry().clusters();
  cp.clients = st.phase.registry().clients();
  cp.lost_early = st.lost_early;
  cp.selected = st.phase.registry().selected();
  cp.late_joined = st.phase.late_joined();
  if (!cp.late_joined && st.opt.experiment.late_clients > 0)
    for (const auto& [id, p] : st.points)
      cp.points.emplace(id, *p);
  cp.report = *st.report;
  auto durable = fl::layer_step(phase, round);
  if (auto oldest = async_flights(self, cp))
    durable = fl::layer_step(phase, static_cast<std::uint32_t>(*oldest)); // their fits are sent again
  for (const auto& c : cp.clusters) // a cluster server's fits in flight, likewise
    for (const auto& f : c.async.flights)
      durable = std::min(durable, fl::layer_step("cluster", static_cast<std::uint32_t>(f.version)));
  // Once it is written every resume starts here or later: FedBN's layer histories may forget
  // what came before. A checkpoint not written (a full disk) leaves the older one in force.
  if (st.observer->on_checkpoint(cp))
    st.durable_step = durable;
}

// The global model on this node's test set.
void evaluate_on_test_set(coordinator_actor* self, const weight_blob& model, std::function<void(eval_summary)> cb) {
  self->request(self->state.pool, deadline(self->state.opt.experiment.rounds.timeout_s), assess_atom::value,
                test_set, model)
    .then([cb](eval_result& e) { cb({{}, e.samples, e.loss, e.accuracy}); },
          [self, cb](caf::error& err) { cb({text_of(self->system(), err), 0, 0, 0}); });
}

namespace {

// The faults the run had injected before its checkpoint, told again to this process's client
// actors: they are new actors, healthy, while in the run being continued a crashed client was
// gone, a hung one answered nothing and a slow one answered late. Sent before any request of the
// resumed run (messages between two actors keep their order), in the order they were applied,
// so every later round meets the client as the uninterrupted run did: still sampled (initial
// rounds ask every client; a lost cluster member is out of the registry, which the checkpoint
// restored) and failing the same way.
void reapply_faults(coordinator_actor* self, const std::vector<fl::applied_fault>& faults) {
  auto& st = self->state;
  for (const auto& f : faults) {
    if (f.client < 0 || static_cast<std::size_t>(f.client) >= st.clients.size())
      continue; // it hit nobody
    // A timed hang is not applied again: it ends at a moment of the interrupted process's
    // clock, which a resume cannot continue. It was applied before a round the checkpoint holds
    // as done; when the client was asked in that round, the round waited for its deadline, so
    // a hang no longer than rounds.timeout_s was over by the checkpoint in the uninterrupted
    // run too, as it is here. Whether a longer one (or one on a client not asked) still held in
    // a later round depended on wall-clock timing in the uninterrupted run itself, which no
    // resume can reproduce.
    if (f.kind == "hang" && f.seconds > 0)
      continue;
    if (!inject(self, f, "applied again (" + f.phase + " round " + std::to_string(f.round) + ")"))
      st.observer->on_warning("fault " + f.target + " (" + f.kind + ") of client " + std::to_string(f.client) +
                              " is not applied again: the client has no actor yet");
  }
}

// Whether a cluster-phase fault belongs to a round its cluster has not finished (by the registry).
bool unfinished_round(const fl::cluster_registry& reg, const fl::applied_fault& f) {
  if (f.phase != "cluster")
    return false;
  std::optional<std::uint32_t> cluster;
  if (f.target.rfind("server:", 0) == 0) {
    auto digits = f.target.substr(7);
    if (digits.empty() || digits.size() > 9 ||
        !std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      return false;
    cluster = static_cast<std::uint32_t>(std::stoul(digits));
  }
  else if (f.client >= 0 && reg.clients().count(static_cast<std::uint32_t>(f.client)))
    cluster = reg.cluster_of(static_cast<std::uint32_t>(f.client));
  return cluster && *cluster < reg.clusters().size() && f.round > reg.clusters()[*cluster].rounds_done;
}

// FedBN (model.buffers=local): each client takes back the layer history its own machine kept,
// as of the round the checkpoint holds for it (its cluster's last recorded round: clusters run
// free, so a member may have trained a later round before the run stopped). A client that
// trained before the checkpoint must find its layers: else the run ends with a data error.
void restore_layers(coordinator_actor* self, const fl::checkpoint& cp, std::function<void()> then) {
  auto& st = self->state;
  if (!st.opt.local_layers)
    return then();
  const auto& reg = st.phase.registry();
  std::vector<peer> asked;
  std::map<std::uint32_t, std::uint64_t> step_of;
  for (const auto& c : st.clients) {
    bool known = cp.phase == "cluster" && reg.clients().count(c.id);
    if (!c.handle || st.lost_early.count(c.id) || (known && reg.lost(c.id)))
      continue;
    // A client in no cluster (a late one not joined yet, one clustering left out) trains next,
    // if ever, after the checkpoint's round.
    auto step = fl::layer_step(cp.phase, cp.round);
    if (known)
      if (auto cluster = reg.cluster_of(c.id))
        step = fl::layer_step("cluster", reg.clusters()[*cluster].rounds_done);
    step_of[c.id] = step;
    asked.push_back(c);
  }
  st.observer->on_event("restoring the BatchNorm layers " + std::to_string(asked.size()) +
                        " clients kept (model.buffers=local)");
  fan_out<restore_atom>(
    *st.watch, asked, st.opt.experiment.rounds.timeout_s,
    [self, step_of](const peer& p) {
      bool trained = p.id < self->state.samples_of.size() && self->state.samples_of[p.id] > 0;
      return std::make_tuple(restore_atom::value, step_of.at(p.id), trained);
    },
    [self, then](fan_in<restore_atom>& in) {
      for (const auto& f : in.failures) {
        if (f.code == errc::data_error)
          return fail_run(self, errc::data_error, f.reason);
        // Gone or silent: the rounds find it so, as they would have without the resume.
        self->state.observer->on_warning("client " + std::to_string(f.id) + " could not restore its BatchNorm "
                                         "layers: " + f.reason);
      }
      then();
    });
}

// Puts a checkpoint's state back and continues where it stopped.
void resume(coordinator_actor* self, const fl::checkpoint& cp) {
  auto& st = self->state;
  st.global = weight_blob{st.opt.model.layout, cp.global};
  st.strategy->restore(cp.strategy, cp.global.size());
  st.samples_of = cp.samples_of;
  st.samples_of.resize(st.clients.size(), 0);
  if (!cp.clusters.empty())
    st.phase.registry() = fl::cluster_registry::restore(cp.clusters, cp.clients, cp.selected);
  st.lost_early = cp.lost_early;
  if (st.accountant && !cp.report.privacy_rdp.empty())
    *st.accountant = fl::privacy::rdp_accountant::restore(cp.report.privacy_rdp);
  st.phase.set_late_joined(cp.late_joined);
  for (const auto& [id, p] : cp.points)
    st.points[id] = std::make_shared<const std::vector<float>>(p);
  // The client actors are this process's, not those of the run that wrote the checkpoint.
  auto actors = std::move(st.report->client_actors);
  *st.report = cp.report;
  st.report->client_actors = std::move(actors);
  // clock=wall: the resumed run's clock goes on from the latest time recorded (a cluster-phase
  // checkpoint's rounds ran after the initial phase's end, which is all report.sim_time_s holds).
  st.wall_offset = cp.report.sim_time_s;
  for (const auto& r : cp.report.rounds)
    st.wall_offset = std::max(st.wall_offset, r.sim_time_s);
  st.observer->on_event("resuming after " + cp.phase + " round " + std::to_string(cp.round));
  // Clusters run free, so a checkpoint can hold faults of a round their cluster had started but
  // not finished: that round runs again from its start, and its faults are applied again then
  // (as the uninterrupted run applied them, timed hangs included), not now.
  auto& faults = st.report->faults;
  faults.erase(std::remove_if(faults.begin(), faults.end(),
                              [&](const fl::applied_fault& f) { return unfinished_round(st.phase.registry(), f); }),
               faults.end());
  st.durable_step = fl::layer_step(cp.phase, cp.round);
  keep_async_flights(self, cp);
  restore_layers(self, cp, [self, phase = cp.phase, round = cp.round] {
    reapply_faults(self, self->state.report->faults);
    if (phase == "initial") {
      const auto& ex = self->state.opt.experiment;
      // Plain FL's last checkpoint ends its rounds: what is left is the evaluation.
      bool plain = fl::plain_fl(ex.clustering.method);
      bool stopped = ex.rounds.stop_at_target && self->state.report->rounds_to_target >= 0;
      if (plain && (round >= ex.rounds.initial || stopped))
        return enter(self, evaluation);
      self->become(initial(self).or_else(common(self)));
      if (ex.async.asynchronous() && round + 1 < ex.rounds.initial)
        return resume_async_steps(self, round);
      self->send(self, next_atom::value, round + 1);
    } else {
      resume_cluster_phase(self);
    }
  });
}

// Descriptors (coordinator_options::spawn_client): the clients asked get an actor for the
// round; `spawned` collects them for release_clients.
void materialize(coordinator_actor* self, std::vector<peer>& asked, std::vector<std::uint32_t>& spawned) {
  auto& st = self->state;
  for (auto& p : asked) {
    // A client whose actor went down stays down (as an actor of its own would): no new one.
    if (p.handle || st.lost_early.count(p.id))
      continue;
    p.handle = st.opt.spawn_client(p.id);
    st.clients[p.id].handle = p.handle;
    st.id_of[p.handle.address()] = p.id;
    spawned.push_back(p.id);
  }
}

// Lets the actors of `ids` go: nothing of them stays with the coordinator (its watch forgets
// them, so their memory goes), and the client is a descriptor again until sampled next.
void release_clients(coordinator_actor* self, const std::vector<std::uint32_t>& ids) {
  auto& st = self->state;
  for (auto id : ids) {
    auto handle = std::exchange(st.clients[id].handle, client_handle{});
    if (!handle)
      continue;
    auto actor = caf::actor_cast<caf::actor>(handle);
    st.watch->release(actor, "client " + std::to_string(id) + " was let go after its round");
    st.id_of.erase(actor.address());
    self->send_exit(actor, caf::exit_reason::user_shutdown);
  }
}

// One initial round through the round engine at the coordinator's aggregation point.
void initial_round(coordinator_actor* self, std::uint32_t round) {
  auto& st = self->state;
  const auto& ex = st.opt.experiment;
  // After asynchronous steps that reached rounds.stop_at_target, this round ends the phase too.
  bool last = round == ex.rounds.initial || async_steps_over(self);
  // Plain FL (clustering.method=none): the last round is a round like the others.
  bool plain = fl::plain_fl(ex.clustering.method);
  bool everyone = last && !plain;
  // privacy.dp: this round's sampling rate for the accountant, and the budget it must not pass.
  const auto& privacy = ex.privacy;
  // The round that feeds clustering asks everyone: q = 1.
  const double q = ex.clients == 0 || everyone
                     ? 1.0
                     : static_cast<double>(fl::participants_of(ex.clients, ex.rounds.fraction_fit)) /
                         static_cast<double>(ex.clients);
  if (st.accountant && privacy.epsilon_budget > 0 &&
      st.accountant->would_exceed(privacy.epsilon_budget, privacy.delta, q, privacy.noise_multiplier)) {
    st.observer->on_warning("privacy.epsilon_budget = " + std::to_string(privacy.epsilon_budget) + ": round " +
                            std::to_string(round) + " would raise epsilon to " +
                            std::to_string(st.accountant->epsilon_after(privacy.delta, q, privacy.noise_multiplier)) +
                            " (delta " + std::to_string(privacy.delta) + "); the rounds end at round " +
                            std::to_string(round - 1));
    return enter(self, plain ? evaluation : clustering);
  }
  apply_faults(self, "initial", round);
  round_inputs in;
  in.header.phase = "initial";
  in.header.round = round;
  // Late joiners are not there yet.
  in.available.assign(st.clients.begin(), st.clients.begin() + ex.clients);
  in.model = st.global;
  // Clustering needs every client's weights, so the last round asks everyone.
  in.fraction_fit = everyone ? 1.0 : ex.rounds.fraction_fit;
  in.quorum = ex.rounds.quorum;
  in.timeout_s = ex.rounds.timeout_s;
  in.sampling_seed = fl::sampling_seed(ex.seed, 0, round);
  in.stragglers = ex.rounds.stragglers.fraction;
  // The round that ends the phase gives clustering every client's weights: nobody is dropped.
  in.keep_stragglers = everyone || fl::keeps_stragglers(ex.rounds.stragglers, ex.strategy.name);
  in.epochs = ex.rounds.epochs;
  in.durable = st.durable_step;
  if (st.opt.clock)
    in.sim = virtual_round{st.report->sim_time_s, st.opt.clock, -1, ex.rounds.sim_deadline_s};
  if (st.accountant) // privacy.dp: the coordinator is aggregation point 0, its clip is the report's
    in.dp = dp_round{privacy.noise_multiplier, fl::privacy::clip_now(st.report->dp_clip, privacy.clip),
                     privacy.dp == "distributed", privacy.adaptive_clip, ex.seed, 0};
  // Clustering reads every client's weights: the round that ends the phase runs in the clear.
  in.secure = secure_setup{ex.privacy.secure_aggregation && (plain || !everyone), -1, ex.privacy.min_cluster, ex.seed, {}};
  if (in.secure.on && st.opt.registrar) // the members check the model against this, not the aggregator's word
    in.secure.registration = register_model(*st.opt.registrar, secure_session(ex.seed, in.header), st.global.values());
  auto spawned = std::make_shared<std::vector<std::uint32_t>>();
  if (st.opt.spawn_client)
    in.materialize = [self, spawned](std::vector<peer>& asked) { materialize(self, asked, *spawned); };
  st.last_start = st.global;
  st.points.clear(); // features are those of the round that ends the phase
  st.observer->on_phase("initial", "round " + std::to_string(round) + "/" + std::to_string(ex.rounds.initial) + " (" +
                                     st.strategy->options().name + ")");
  round_hooks hooks;
  hooks.on_progress = [self](std::size_t done, std::size_t total) { self->state.observer->on_progress(done, total); };
  hooks.on_update = [self, plain](const fit_result& r) {
    auto& st = self->state;
    st.samples_of[r.client_id] = r.samples;
    if (plain || r.weights.size() == 0)
      return; // no clustering: no features; a secure round's members send none
    auto dim = st.opt.experiment.clustering.sketch_dim;
    st.points[r.client_id] =
      dim > 0 ? std::make_shared<const std::vector<float>>(fl::sketch(r.weights.values(), dim, st.opt.experiment.seed))
              : r.weights.data;
  };
  auto evaluate = [self, round, last](const weight_blob& m, const std::vector<failure>&,
                                      std::function<void(eval_summary)> cb) {
    const auto& r = self->state.opt.experiment.rounds;
    if (!last && !r.evaluates(round, r.initial))
      return cb(eval_summary{{}, 0, fl::not_evaluated, fl::not_evaluated});
    evaluate_on_test_set(self, m, std::move(cb));
  };
  run_round(*st.watch, *st.strategy, std::move(in), evaluate, [self, round, last, plain, spawned, q](round_outcome out) {
    auto& st = self->state;
    release_clients(self, *spawned);
    auto& rep = *st.report;
    const auto& ex = st.opt.experiment;
    auto& rec = out.record;
    if (!out.eval_error.empty())
      return fail_run(self, errc::round_failed, "evaluating the global model failed: " + out.eval_error);
    // privacy.dp: every round that asked clients costs its privacy, also one that kept its model:
    // whether it aggregates depends on the clients' updates (a diverged one is refused).
    if (st.accountant) {
      if (rec.asked > 0)
        st.accountant->add_steps(q, rec.noise_multiplier > 0 ? rec.noise_multiplier : ex.privacy.noise_multiplier);
      rec.epsilon = rep.epsilon = st.accountant->epsilon(ex.privacy.delta);
      rep.privacy_rdp = st.accountant->state();
      if (ex.privacy.adaptive_clip) // Andrew et al.: the next round's clip, from this round's noised count
        rep.dp_clip = fl::privacy::next_clip(fl::privacy::clip_now(rep.dp_clip, ex.privacy.clip), rec.clip_fraction,
                                             ex.privacy.clip_rule);
    }
    rec.sim_time_s = run_clock(self, rec.sim_time_s);
    rep.sim_time_s = rec.sim_time_s;
    rep.bytes_moved += (rec.asked + rec.clients) * st.opt.model.parameters * sizeof(float);
    rep.samples_trained += rec.samples * st.opt.epochs;
    rep.samples_evaluated += rec.evaluated;
    rep.rounds.push_back(rec);
    st.observer->on_round(rec);
    if (auto fatal = round_fatal_error(out.failures, rec.clients, divergence_advice(st.strategy->options()))) {
      st.done.deliver(*fatal);
      return self->quit();
    }
    if (!rec.aggregated)
      st.observer->on_warning("initial round " + std::to_string(round) + ": " + rec.not_aggregated +
                              "; the global model is kept");
    st.global = out.model;
    bool reached = ex.rounds.target_accuracy > 0 && rec.test_accuracy >= ex.rounds.target_accuracy;
    if (reached && rep.rounds_to_target < 0) {
      rep.rounds_to_target = round;
      rep.sim_time_to_target_s = rec.sim_time_s;
    }
    if (last || (reached && ex.rounds.stop_at_target)) {
      if (plain) {
        save_checkpoint(self, "initial", round); // a resume of a finished run goes straight to the evaluation
        return enter(self, evaluation);
      }
      return enter(self, clustering); // the next checkpoint comes after clustering and selection
    }
    save_checkpoint(self, "initial", round);
    self->send(self, next_atom::value, round + 1);
  }, hooks);
}

caf::message_handler idle(coordinator_actor* self) {
  return {
    [=](run_atom) {
      auto& st = self->state;
      st.done = self->make_response_promise();
      st.phase_start = std::chrono::steady_clock::now();
      if (st.opt.resume) {
        resume(self, *st.opt.resume);
        return st.done;
      }
      self->become(phases::initial(self).or_else(common(self)));
      self->send(self, next_atom::value, std::uint32_t{1});
      return st.done;
    },
  };
}

} // namespace

caf::message_handler initial(coordinator_actor* self) {
  return {
    [=](next_atom, std::uint32_t round) {
      // strategy.mode=buffered|async: the steps before the last are asynchronous.
      const auto& ex = self->state.opt.experiment;
      if (round == 1 && ex.async.asynchronous() && ex.rounds.initial > 1)
        return async_initial_steps(self);
      initial_round(self, round);
    },
  };
}

} // namespace phases

caf::behavior coordinator(coordinator_actor* self, coordinator_options options, std::vector<peer> clients,
                          trainer_pool_handle pool, std::shared_ptr<fl::run_observer> observer,
                          std::shared_ptr<fl::run_report> report) {
  auto& st = self->state;
  st.global = weight_blob{options.model.layout, options.initial_model};
  st.samples_of.assign(clients.size(), 0);
  st.strategy = fl::make_strategy(options.experiment.strategy);
  if (options.experiment.privacy.on())
    st.accountant = std::make_shared<fl::privacy::rdp_accountant>();
  const auto& ex = options.experiment;
  st.phase.configure({ex.rounds.cluster, ex.clustering.method, ex.late_clients, ex.late_join_round,
                      ex.rounds.cluster_lockstep, options.clock, ex.rounds.sim_deadline_s, ex.rounds.epochs,
                      ex.privacy.on() ? ex.privacy.noise_multiplier : 0.0, ex.privacy.delta,
                      ex.privacy.epsilon_budget, ex.rounds.fraction_fit, ex.privacy.on() && ex.privacy.adaptive_clip,
                      ex.privacy.clip_rule, ex.privacy.clip},
                     report.get());
  st.opt = std::move(options);
  st.clients = std::move(clients);
  for (const auto& c : st.clients)
    if (c.handle)
      st.id_of[c.handle.address()] = c.id;
  st.pool = std::move(pool);
  st.observer = std::move(observer);
  st.report = std::move(report);
  // A client that goes down leaves the clusters for good (its pending requests fail at once).
  self->set_default_handler(drop_unexpected);
  // An exception in the coordinator ends the run with its class; the caller of `run` is told
  // (it would otherwise wait for ever on the promise).
  end_on_exception(self, st.name, [self](const caf::error& err) { self->state.done.deliver(err); });
  st.watch = down_watch::install(self, [self](const caf::down_msg& dm) {
    auto& st = self->state;
    // A client, server or the pool that threw (or failed for a reason no round heals) ends the
    // run; a crash or a lost node is tolerated, as the clusters are built to.
    if (ends_run(dm.reason) && (st.id_of.count(dm.source) || dm.source == st.pool.address())) {
      auto text = text_of(self->system(), dm.reason);
      return phases::fail_run(self, *code_of(dm.reason), text);
    }
    auto it = st.id_of.find(dm.source);
    if (it != st.id_of.end())
      phases::client_lost(self, it->second, "down: " + self->system().render(dm.reason));
  });
  if (st.pool)
    st.watch->ensure_monitored(caf::actor_cast<caf::actor>(st.pool));
  return phases::idle(self).or_else(phases::common(self));
}

} // namespace flotilla::actors
