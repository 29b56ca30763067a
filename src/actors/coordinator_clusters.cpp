// Cluster rounds (each cluster driven independently through its promoted server) and the
// final evaluation of the global and cluster models.
#include "actors/coordinator_phases.hpp"
#include "actors/round_engine.hpp"
#include "fl/aggregate.hpp"

#include <utility>

namespace flotilla::actors::phases {

namespace {

void cluster_round(coordinator_actor* self, std::uint32_t c, std::uint32_t round);

void cluster_finished(coordinator_actor* self) {
  if (--self->state.clusters_running == 0)
    enter(self, evaluation);
}

void record_cluster_round(coordinator_actor* self, std::uint32_t c, round_result& r) {
  auto& st = self->state;
  auto& cl = st.clusters[c];
  auto& rec = r.record;
  auto& rep = *st.report;
  rep.rounds.push_back(rec);
  rep.samples_trained += rec.samples * st.opt.epochs;
  rep.samples_evaluated += rec.evaluated;
  // Server: model out to the asked members and updates back, model out for evaluation to the
  // members that did not fail, result to us.
  auto evaluated_members = cl.members.size() - std::min<std::size_t>(cl.members.size(), rec.failures);
  rep.bytes_moved += (rec.asked + rec.clients + evaluated_members + 1) * st.opt.model.parameters * sizeof(float);
  st.observer->on_round(rec);
  if (!rec.aggregated)
    st.observer->on_warning("cluster " + std::to_string(c) + " round " + std::to_string(rec.round) + ": " +
                            rec.not_aggregated + "; model kept");
  cl.model = std::move(r.model);
  cl.state = std::move(r.state);
  cl.rounds_done = rec.round;
  rep.clusters[c].aggregator_actor = r.aggregator ? r.aggregator.id() : 0;
}

void cluster_round(coordinator_actor* self, std::uint32_t c, std::uint32_t round) {
  auto& st = self->state;
  auto server = st.clusters[c].server.handle;
  // Settled once: by the result, an error, or the server going DOWN.
  auto settled = std::make_shared<bool>(false);
  auto failed = [=](const std::string& why) {
    if (std::exchange(*settled, true))
      return;
    auto& cl = self->state.clusters[c];
    cl.failed = true;
    cl.failure = "cluster server " + std::to_string(cl.server.id) + " failed in round " + std::to_string(round) +
                 ": " + why;
    self->state.observer->on_warning("cluster " + std::to_string(c) + ": " + cl.failure);
    cluster_finished(self);
  };
  if (auto why = st.watch->gone(server.address()))
    return failed(*why);
  st.watch->ensure_monitored(server);
  auto ticket = st.watch->watch(server.address(), failed);
  // A round is a fit and an evaluation fan-out at the server, each with its own deadline.
  const auto& ex = st.opt.experiment;
  self->request(server, deadline(2 * ex.rounds.timeout_s + 5), cluster_round_atom::value,
                cluster_round_ins{round, st.clusters[c].members})
    .then(
      [=](round_result& r) {
        self->state.watch->forget(server.address(), ticket);
        if (std::exchange(*settled, true))
          return;
        record_cluster_round(self, c, r);
        if (round < self->state.opt.experiment.rounds.cluster)
          cluster_round(self, c, round + 1);
        else
          cluster_finished(self);
      },
      [=](caf::error& err) {
        self->state.watch->forget(server.address(), ticket);
        failed(text_of(self->system(), err));
      });
}

// Each member evaluates its cluster's model on its local split.
void evaluate_members(coordinator_actor* self) {
  auto& st = self->state;
  std::vector<peer> members;
  std::map<std::uint32_t, caf::message> msgs;
  for (std::uint32_t c = 0; c < st.clusters.size(); ++c) {
    auto msg = caf::make_message(evaluate_atom::value, st.clusters[c].model);
    for (const auto& m : st.clusters[c].members) {
      members.push_back(m);
      msgs[m.id] = msg;
    }
  }
  std::sort(members.begin(), members.end(), [](const peer& a, const peer& b) { return a.id < b.id; });
  fan_out<eval_result>(*st.watch, members, st.opt.experiment.rounds.timeout_s,
                       [msgs](const peer& p) { return msgs.at(p.id); },
                       [=](fan_in<eval_result>& evals) {
                         auto& st = self->state;
                         auto& rep = *st.report;
                         rep.personalized.assign(st.clients.size(), -1.0);
                         std::vector<std::vector<std::pair<std::uint32_t, eval_result>>> per(st.clusters.size());
                         for (const auto& [id, e] : evals.results) {
                           rep.personalized[id] = e.accuracy;
                           rep.samples_evaluated += e.samples;
                           per[rep.assignment[id]].emplace_back(id, e);
                         }
                         for (std::size_t c = 0; c < st.clusters.size(); ++c)
                           rep.clusters[c].accuracy = combine(per[c]).accuracy;
                         for (const auto& f : evals.failures)
                           st.observer->on_warning("client " + std::to_string(f.id) + " could not evaluate: " + f.reason);
                         rep.evaluation_seconds = since(st.phase_start);
                         st.done.deliver(caf::ok_atom::value);
                         self->quit();
                       });
}

} // namespace

caf::behavior cluster_rounds(coordinator_actor* self) {
  return {
    [=](next_atom) {
      auto& st = self->state;
      st.phase_start = std::chrono::steady_clock::now();
      st.report->clusters.assign(st.clusters.size(), {});
      st.observer->on_phase("cluster", std::to_string(st.clusters.size()) + " clusters, " +
                                         std::to_string(st.opt.experiment.rounds.cluster) + " rounds each");
      st.clusters_running = 1; // held while starting, so no cluster ends the phase early
      for (std::uint32_t c = 0; c < st.clusters.size(); ++c)
        if (!st.clusters[c].failed && st.opt.experiment.rounds.cluster > 0) {
          ++st.clusters_running;
          cluster_round(self, c, 1);
        }
      cluster_finished(self);
    },
  };
}

caf::behavior evaluation(coordinator_actor* self) {
  return {
    [=](next_atom) {
      auto& st = self->state;
      auto& rep = *st.report;
      rep.cluster_seconds = since(st.phase_start);
      st.phase_start = std::chrono::steady_clock::now();
      st.observer->on_phase("evaluation", "global model on the test set, cluster models on local splits");
      // The global model: cluster models weighted by their members' samples.
      std::vector<fl::weighted_update> parts;
      for (std::uint32_t c = 0; c < st.clusters.size(); ++c) {
        auto& cl = st.clusters[c];
        auto& out = rep.clusters[c];
        out.id = c;
        out.server = cl.server.id;
        out.rounds_done = cl.rounds_done;
        out.failed = cl.failed;
        out.failure = cl.failure;
        for (const auto& m : cl.members) {
          out.members.push_back(m.id);
          out.samples += st.samples_of[m.id];
        }
        out.model = cl.model.values();
        if (out.samples > 0)
          parts.push_back({c, out.samples, &cl.model.values()});
      }
      rep.global_model = parts.empty() ? st.global.values() : fl::weighted_mean(parts);
      self->request(st.pool, deadline(st.opt.experiment.rounds.timeout_s), evaluate_atom::value, test_set,
                    weight_blob{st.opt.model.layout, rep.global_model})
        .then(
          [=](eval_result& e) {
            self->state.report->global_accuracy = e.accuracy;
            self->state.report->samples_evaluated += e.samples;
            evaluate_members(self);
          },
          [=](caf::error& err) {
            fail_run(self, errc::round_failed, "evaluating the global model failed: " + text_of(self->system(), err));
          });
    },
  };
}

} // namespace flotilla::actors::phases
