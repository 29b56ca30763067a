#include "actors/coordinator.hpp"

#include "actors/coordinator_phases.hpp"
#include "actors/round_engine.hpp"
#include "fl/kmeans.hpp"
#include "fl/pca.hpp"
#include "fl/seeds.hpp"
#include "fl/sketch.hpp"

namespace flotilla::actors {

namespace phases {

std::optional<caf::error> fatal_failure(const std::vector<failure>& failures, std::size_t accepted) {
  if (accepted > 0 || failures.empty())
    return std::nullopt;
  for (const auto& f : failures)
    if (f.code != errc::model_error && f.code != errc::data_error && f.code != errc::config_error)
      return std::nullopt;
  const auto& first = failures.front();
  return make_error(*first.code, "every client failed (" + std::to_string(failures.size()) + " of " +
                                   std::to_string(failures.size()) + "); client " + std::to_string(first.id) +
                                   ": " + first.reason);
}

namespace {

// The global model on this node's test set.
void evaluate_on_test_set(coordinator_actor* self, const weight_blob& model, std::function<void(eval_summary)> cb) {
  self->request(self->state.pool, deadline(self->state.opt.experiment.rounds.timeout_s), evaluate_atom::value,
                test_set, model)
    .then([cb](eval_result& e) { cb({{}, e.samples, e.loss, e.accuracy}); },
          [self, cb](caf::error& err) { cb({text_of(self->system(), err), 0, 0, 0}); });
}

// One initial round through the round engine at the coordinator's aggregation point.
void initial_round(coordinator_actor* self, std::uint32_t round) {
  auto& st = self->state;
  const auto& ex = st.opt.experiment;
  bool last = round == ex.rounds.initial;
  round_inputs in;
  in.header.phase = "initial";
  in.header.round = round;
  in.available = st.clients;
  in.model = st.global;
  // Clustering needs every client's weights, so the last round asks everyone.
  in.fraction_fit = last ? 1.0 : ex.rounds.fraction_fit;
  in.quorum = ex.rounds.quorum;
  in.timeout_s = ex.rounds.timeout_s;
  in.sampling_seed = fl::sampling_seed(ex.seed, 0, round);
  st.observer->on_phase("initial", "round " + std::to_string(round) + "/" + std::to_string(ex.rounds.initial) +
                                     " (" + st.strategy->options().name + ")");
  round_hooks hooks;
  hooks.on_progress = [self](std::size_t done, std::size_t total) { self->state.observer->on_progress(done, total); };
  hooks.on_update = [self, last](const fit_result& r) {
    auto& st = self->state;
    st.samples_of[r.client_id] = r.samples;
    if (last) {
      auto dim = st.opt.experiment.clustering.sketch_dim;
      st.points[r.client_id] =
        dim > 0 ? std::make_shared<const std::vector<float>>(fl::sketch(r.weights.values(), dim, st.opt.experiment.seed))
                : r.weights.data;
    }
  };
  auto evaluate = [self](const weight_blob& m, const std::vector<failure>&, std::function<void(eval_summary)> cb) {
    evaluate_on_test_set(self, m, std::move(cb));
  };
  run_round(*st.watch, *st.strategy, std::move(in), evaluate, [self, round, last](round_outcome out) {
    auto& st = self->state;
    auto& rep = *st.report;
    const auto& ex = st.opt.experiment;
    auto& rec = out.record;
    if (!out.eval_error.empty())
      return fail_run(self, errc::round_failed, "evaluating the global model failed: " + out.eval_error);
    rep.bytes_moved += (rec.asked + rec.clients) * st.opt.model.parameters * sizeof(float);
    rep.samples_trained += rec.samples * st.opt.epochs;
    rep.samples_evaluated += rec.evaluated;
    rep.rounds.push_back(rec);
    st.observer->on_round(rec);
    if (auto fatal = fatal_failure(out.failures, rec.clients)) {
      st.done.deliver(*fatal);
      return self->quit();
    }
    if (!rec.aggregated)
      st.observer->on_warning("initial round " + std::to_string(round) + ": " + rec.not_aggregated +
                              "; the global model is kept");
    st.global = out.model;
    bool reached = ex.rounds.target_accuracy > 0 && rec.test_accuracy >= ex.rounds.target_accuracy;
    if (reached && rep.rounds_to_target < 0)
      rep.rounds_to_target = round;
    if (last || (reached && ex.rounds.stop_at_target))
      enter(self, clustering);
    else
      self->send(self, next_atom::value, round + 1);
  }, hooks);
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
      const auto& cl = st.opt.experiment.clustering;
      rep.initial_seconds = since(st.phase_start);
      st.phase_start = std::chrono::steady_clock::now();
      rep.initial_global = st.global.values();
      rep.initial_global_accuracy = rep.rounds.empty() ? 0 : rep.rounds.back().test_accuracy;
      if (st.points.empty())
        return fail_run(self, errc::round_failed, "no client answered in the last initial round: nothing to cluster");
      auto k = std::min<std::uint32_t>(cl.k, static_cast<std::uint32_t>(st.points.size()));
      if (k < cl.k)
        st.observer->on_warning("only " + std::to_string(st.points.size()) + " clients to cluster; k lowered to " +
                                std::to_string(k));
      st.observer->on_phase("clustering", "k-means, k=" + std::to_string(k) + " on " +
                                            std::to_string(st.points.size()) + " clients" +
                                            (cl.sketch_dim > 0 ? " (sketches)" : ""));
      std::vector<const float*> points;
      std::vector<std::uint32_t> ids;
      for (const auto& [id, p] : st.points) {
        ids.push_back(id);
        points.push_back(p->data());
      }
      std::size_t dim = cl.sketch_dim > 0 ? cl.sketch_dim : st.opt.model.parameters;
      auto km = fl::kmeans(points, dim, {k, cl.restarts, cl.max_iterations, st.opt.experiment.seed});
      rep.assignment.assign(st.clients.size(), fl::no_cluster);
      st.clusters.assign(k, {});
      for (std::size_t i = 0; i < ids.size(); ++i) {
        rep.assignment[ids[i]] = km.assignment[i];
        st.clusters[km.assignment[i]].members.push_back(st.clients[ids[i]]);
      }
      auto projected = fl::pca2(points, dim); // for the report's picture of the clustering
      for (std::size_t i = 0; i < ids.size(); ++i)
        rep.projection[ids[i]] = projected[i];
      st.points.clear(); // release every client's features
      // The initial global model on every client's local split: the baseline for the clusters.
      rep.initial_personalized.assign(st.clients.size(), -1.0);
      auto msg = caf::make_message(evaluate_atom::value, st.global);
      fan_out<eval_result>(*st.watch, st.clients, st.opt.experiment.rounds.timeout_s,
                           [msg](const peer&) { return msg; },
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

caf::behavior coordinator(coordinator_actor* self, coordinator_options options, std::vector<peer> clients,
                          caf::actor pool, std::shared_ptr<fl::run_observer> observer,
                          std::shared_ptr<fl::run_report> report) {
  auto& st = self->state;
  st.global = weight_blob{options.model.layout, options.initial_model};
  st.samples_of.assign(clients.size(), 0);
  st.strategy = fl::make_strategy(options.experiment.strategy);
  st.opt = std::move(options);
  st.clients = std::move(clients);
  st.pool = std::move(pool);
  st.observer = std::move(observer);
  st.report = std::move(report);
  st.watch = down_watch::install(self);
  return idle(self);
}

} // namespace flotilla::actors
