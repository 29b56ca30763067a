#include "actors/coordinator.hpp"

#include "actors/coordinator_phases.hpp"
#include "fl/kmeans.hpp"
#include "fl/round_aggregate.hpp"
#include "fl/sketch.hpp"

namespace flotilla::actors {

namespace phases {

namespace {

// One initial round: broadcast the global model, fold updates in as they arrive (FedAvg),
// then evaluate the new global model on the test set.
void initial_round(coordinator_actor* self, std::uint32_t round) {
  auto& st = self->state;
  auto start = std::chrono::steady_clock::now();
  // Clustering needs every client's weights, so the last round asks everyone.
  double fraction = round == st.cfg.initial_rounds ? 1.0 : st.cfg.fraction_fit;
  std::vector<peer> asked;
  for (auto i : fl::sample_participants(st.clients.size(), fraction, st.cfg.seed * 1000003 + round))
    asked.push_back(st.clients[i]);
  st.observer->on_phase("initial", "round " + std::to_string(round) + "/" + std::to_string(st.cfg.initial_rounds) +
                                       ", " + std::to_string(asked.size()) + " clients");
  auto msg = caf::make_message(fit_atom::value, round, st.global);
  auto agg = std::make_shared<fl::round_aggregate>(st.cfg.model.parameters);
  auto settled = std::make_shared<std::size_t>(0);
  bool last = round == st.cfg.initial_rounds;
  auto accept = [self, agg, last](std::uint32_t id, fit_result& r) {
    auto reason = agg->accept(id, r.samples, r.train_loss, r.weights.values());
    if (!reason.empty())
      return reason;
    auto& st = self->state;
    st.samples_of[id] = r.samples;
    if (last)
      st.points[id] = st.cfg.sketch_dim > 0
                        ? std::make_shared<const std::vector<float>>(fl::sketch(r.weights.values(), st.cfg.sketch_dim, st.cfg.seed))
                        : r.weights.data;
    return std::string{};
  };
  auto done = [self, round, start, agg, n_asked = asked.size()](fan_in<fit_result>& fits) {
    auto& st = self->state;
    fl::round_record rec;
    rec.phase = "initial";
    rec.round = round;
    for (const auto& f : fits.failures) {
      rec.failed.push_back(f.id);
      rec.failure_reasons.push_back(f.reason);
    }
    rec.failures = static_cast<std::uint32_t>(fits.failures.size());
    rec.clients = static_cast<std::uint32_t>(agg->count());
    st.report->bytes_moved += (n_asked + agg->count()) * st.cfg.model.parameters * sizeof(float);
    st.report->samples_trained += agg->samples() * st.cfg.epochs;
    rec.aggregated = agg->count() > 0 && agg->count() >= quorum_of(n_asked, st.cfg.quorum);
    if (rec.aggregated) {
      rec.train_loss = agg->train_loss();
      st.global = weight_blob{st.global.layout, agg->mean()};
    } else {
      st.observer->on_warning("initial round " + std::to_string(round) + ": " + std::to_string(agg->count()) +
                              " of " + std::to_string(n_asked) +
                              " clients answered, below the quorum; the global model is kept");
    }
    self->request(st.pool, seconds(st.cfg.timeout_s), evaluate_atom::value, test_set, st.global)
      .then(
        [=](eval_result& e) mutable {
          rec.test_accuracy = e.accuracy;
          rec.seconds = since(start);
          self->state.report->samples_evaluated += e.samples;
          self->state.report->rounds.push_back(rec);
          self->state.observer->on_round(rec);
          if (round < self->state.cfg.initial_rounds)
            self->send(self, next_atom::value, round + 1);
          else
            enter(self, clustering);
        },
        [=](caf::error& err) { fail_run(self, "evaluating the global model failed: " + self->system().render(err)); });
  };
  fan_out<fit_result>(self, asked, st.cfg.timeout_s, [msg](const peer&) { return msg; }, done, accept,
                      [self, settled, n = asked.size()] { self->state.observer->on_progress(++*settled, n); },
                      /*keep=*/false);
}

} // namespace

caf::behavior initial(coordinator_actor* self) {
  return {
    [=](next_atom, std::uint32_t round) { initial_round(self, round); },
  };
}

caf::behavior clustering(coordinator_actor* self) {
  return {
    [=](next_atom) {
      auto& st = self->state;
      auto& rep = *st.report;
      rep.initial_seconds = since(st.phase_start);
      st.phase_start = std::chrono::steady_clock::now();
      rep.initial_global = st.global.values();
      rep.initial_global_accuracy = rep.rounds.empty() ? 0 : rep.rounds.back().test_accuracy;
      if (st.points.empty())
        return fail_run(self, "no client answered in the last initial round: nothing to cluster");
      auto k = std::min<std::uint32_t>(st.cfg.k, static_cast<std::uint32_t>(st.points.size()));
      if (k < st.cfg.k)
        st.observer->on_warning("only " + std::to_string(st.points.size()) + " clients to cluster; k lowered to " +
                                std::to_string(k));
      st.observer->on_phase("clustering", "k-means, k=" + std::to_string(k) + " on " +
                                              std::to_string(st.points.size()) + " clients" +
                                              (st.cfg.sketch_dim > 0 ? " (sketches)" : ""));
      std::vector<const float*> points;
      std::vector<std::uint32_t> ids;
      for (const auto& [id, p] : st.points) {
        ids.push_back(id);
        points.push_back(p->data());
      }
      std::size_t dim = st.cfg.sketch_dim > 0 ? st.cfg.sketch_dim : st.cfg.model.parameters;
      auto km = fl::kmeans(points, dim, {k, st.cfg.restarts, st.cfg.max_iterations, st.cfg.seed});
      rep.assignment.assign(st.clients.size(), fl::no_cluster);
      st.clusters.assign(k, {});
      for (std::size_t i = 0; i < ids.size(); ++i) {
        rep.assignment[ids[i]] = km.assignment[i];
        st.clusters[km.assignment[i]].members.push_back(st.clients[ids[i]]);
      }
      st.points.clear(); // release every client's features
      // The initial global model on every client's local split: the baseline for the clusters.
      rep.initial_personalized.assign(st.clients.size(), -1.0);
      auto msg = caf::make_message(evaluate_atom::value, st.global);
      fan_out<eval_result>(self, st.clients, st.cfg.timeout_s, [msg](const peer&) { return msg; },
                           [=](fan_in<eval_result>& evals) {
                             for (const auto& [id, e] : evals.results) {
                               self->state.report->initial_personalized[id] = e.accuracy;
                               self->state.report->samples_evaluated += e.samples;
                             }
                             self->state.report->clustering_seconds = since(self->state.phase_start);
                             enter(self, selection);
                           });
    },
  };
}

} // namespace phases

namespace {

caf::behavior idle(coordinator_actor* self) {
  return {
    [=](run_atom) {
      auto& st = self->state;
      st.done = self->make_response_promise();
      st.phase_start = std::chrono::steady_clock::now();
      self->become(phases::initial(self));
      self->send(self, next_atom::value, std::uint32_t{1});
      return st.done;
    },
  };
}

} // namespace

caf::behavior coordinator(coordinator_actor* self, coordinator_config cfg, std::vector<peer> clients,
                          caf::actor pool, std::shared_ptr<fl::run_observer> observer,
                          std::shared_ptr<fl::run_report> report) {
  auto& st = self->state;
  st.global = weight_blob{cfg.model.layout, cfg.initial_model};
  st.samples_of.assign(clients.size(), 0);
  st.cfg = std::move(cfg);
  st.clients = std::move(clients);
  st.pool = std::move(pool);
  st.observer = std::move(observer);
  st.report = std::move(report);
  // Peers are monitored by fan_out; a DOWN fails what is pending with them at once.
  self->set_down_handler([=](caf::down_msg& dm) { self->state.watch.down(dm.source, self->system().render(dm.reason)); });
  return idle(self);
}

} // namespace flotilla::actors
