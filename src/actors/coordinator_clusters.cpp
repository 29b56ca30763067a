// Cluster rounds (each cluster driven independently through its promoted server) and the
// final evaluation of the global and cluster models.
#include "actors/coordinator_phases.hpp"
#include "fl/aggregate.hpp"

#include <utility>

namespace flotilla::actors::phases {

namespace {

void cluster_round(coordinator_actor* self, std::uint32_t c, std::uint32_t round);

void cluster_finished(coordinator_actor* self) {
  if (--self->state.clusters_running == 0)
    enter(self, evaluation);
}

void record_cluster_round(coordinator_actor* self, std::uint32_t c, cluster_result& r) {
  auto& st = self->state;
  auto& cl = st.clusters[c];
  fl::round_record rec;
  rec.phase = "cluster";
  rec.round = r.round;
  rec.cluster = c;
  rec.clients = r.clients;
  rec.failures = static_cast<std::uint32_t>(r.failed.size());
  rec.failed = r.failed;
  rec.failure_reasons = r.failure_reasons;
  rec.aggregated = r.aggregated;
  rec.train_loss = r.train_loss;
  rec.test_accuracy = r.test_accuracy;
  rec.seconds = r.seconds;
  st.report->rounds.push_back(rec);
  st.report->samples_trained += r.samples * st.cfg.epochs;
  st.report->samples_evaluated += r.evaluated;
  // Server: model out to members and back, model out for evaluation, result to us.
  st.report->bytes_moved += (2 * r.clients + cl.members.size() + 1) * st.cfg.model.parameters * sizeof(float);
  st.observer->on_round(rec);
  if (!r.aggregated)
    st.observer->on_warning("cluster " + std::to_string(c) + " round " + std::to_string(r.round) +
                            ": quorum missed, model kept");
  cl.model = std::move(r.model);
  cl.rounds_done = r.round;
  st.report->clusters[c].aggregator_actor = r.aggregator ? r.aggregator.id() : 0;
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
  if (auto why = st.watch.gone(server.address()))
    return failed(*why);
  st.watch.ensure_monitored(self, server);
  auto ticket = st.watch.watch(server.address(), failed);
  // A round is a fit and an evaluation fan-out at the server, each with its own deadline.
  self->request(server, seconds(2 * st.cfg.timeout_s + 30), cluster_round_atom::value, round)
    .then(
      [=](cluster_result& r) {
        self->state.watch.forget(server.address(), ticket);
        if (std::exchange(*settled, true))
          return;
        record_cluster_round(self, c, r);
        if (round < self->state.cfg.cluster_rounds)
          cluster_round(self, c, round + 1);
        else
          cluster_finished(self);
      },
      [=](caf::error& err) {
        self->state.watch.forget(server.address(), ticket);
        failed(self->system().render(err));
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
  fan_out<eval_result>(self, members, st.cfg.timeout_s, [msgs](const peer& p) { return msgs.at(p.id); },
                       [=](fan_in<eval_result>& evals) {
                         auto& st = self->state;
                         auto& rep = *st.report;
                         rep.personalized.assign(st.clients.size(), -1.0);
                         std::vector<double> correct(st.clusters.size(), 0), seen(st.clusters.size(), 0);
                         for (const auto& [id, e] : evals.results) {
                           rep.personalized[id] = e.accuracy;
                           rep.samples_evaluated += e.samples;
                           correct[rep.assignment[id]] += e.accuracy * static_cast<double>(e.samples);
                           seen[rep.assignment[id]] += static_cast<double>(e.samples);
                         }
                         for (std::size_t c = 0; c < st.clusters.size(); ++c)
                           rep.clusters[c].accuracy = seen[c] > 0 ? correct[c] / seen[c] : 0.0;
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
                                           std::to_string(st.cfg.cluster_rounds) + " rounds each");
      st.clusters_running = 1; // held while starting, so no cluster ends the phase early
      for (std::uint32_t c = 0; c < st.clusters.size(); ++c)
        if (!st.clusters[c].failed && st.cfg.cluster_rounds > 0) {
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
      rep.global_model = parts.empty() ? st.global.values() : fl::fedavg(parts);
      self->request(st.pool, seconds(st.cfg.timeout_s), evaluate_atom::value, test_set,
                    weight_blob{st.cfg.model.layout, rep.global_model})
        .then(
          [=](eval_result& e) {
            self->state.report->global_accuracy = e.accuracy;
            self->state.report->samples_evaluated += e.samples;
            evaluate_members(self);
          },
          [=](caf::error& err) { fail_run(self, "evaluating the global model failed: " + self->system().render(err)); });
    },
  };
}

} // namespace flotilla::actors::phases
