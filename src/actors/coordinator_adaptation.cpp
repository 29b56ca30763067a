// The cluster phase's common points that need the clients: IFCA's losses of every cluster model
// (the phase moves each client to its lowest), and the late joiners' training (the phase places
// them by centroid). The rules are fl::ifca_choice and fl::place_late_joiners.
#include "actors/coordinator_phases.hpp"
#include "actors/blob_transfer.hpp"
#include "fl/layer_history.hpp"
#include "fl/sketch.hpp"

namespace flotilla::actors::phases {

void ask_losses(coordinator_actor* self, std::uint32_t round, const std::vector<std::uint32_t>& clusters) {
  auto& st = self->state;
  std::vector<weight_blob> models;
  std::vector<peer> members;
  for (auto c : clusters) {
    models.push_back(weight_blob{st.opt.model.layout, st.phase.registry().cluster(c).model});
    auto m = member_peers(self, c);
    members.insert(members.end(), m.begin(), m.end());
  }
  std::sort(members.begin(), members.end(), [](const peer& a, const peer& b) { return a.id < b.id; });
  fan_out<std::vector<double>>(
    *st.watch, members, st.opt.experiment.rounds.timeout_s,
    [models](const peer&) { return std::make_tuple(losses_atom::value, models); },
    [self, round](fan_in<std::vector<double>>& answers) {
      auto& st = self->state;
      for (const auto& f : answers.failures)
        st.observer->on_warning("client " + std::to_string(f.id) + " could not compare the cluster models: " + f.reason);
      std::map<std::uint32_t, std::vector<double>> losses(answers.results.begin(), answers.results.end());
      carry_out(self, st.phase.losses_reported(round, losses, since(st.phase_start)));
    });
}

void join_late_clients(coordinator_actor* self, std::uint32_t round) {
  auto& st = self->state;
  const auto& ex = st.opt.experiment;
  std::vector<peer> late;
  for (auto id = ex.clients; id < ex.total_clients(); ++id) {
    if (st.clients[id].handle)
      late.push_back(st.clients[id]);
    else
      st.observer->on_warning("late client " + std::to_string(id) + " has no actor (no node hosts it); it does not join");
  }
  st.observer->on_phase("late join", std::to_string(late.size()) + " clients before cluster round " +
                                       std::to_string(round));
  // A late client trains once from the global model of the end of the initial phase; its
  // weights are placed like the clustered clients' (same features, same space).
  weight_blob start{st.opt.model.layout, st.report->initial_global};
  // Under FedBN its layers are the version of the cluster round before it joins.
  auto step = fl::layer_step("cluster", round > 0 ? round - 1 : 0);
  auto msg = std::make_tuple(fit_atom::value, fit_ins{fl::fit_config{ex.rounds.initial, 0, 0, 0}, start, step,
                                                      st.durable_step});
  fan_out_hooks<fit_result> fetching; // a joiner on another node may send a large update as a reference
  fetching.accept_async = [self, expected = st.opt.model.parameters](std::uint32_t, fit_result& r,
                                                                     std::function<void(std::string, errc)> settle) {
    auto* held = &r; // owned by the fan-out until settle is called
    fetch_blob(self, r.weights, expected, [held, settle](std::string error, weight_blob w) {
      if (!error.empty())
        return settle("its update could not be fetched: " + error, errc::round_failed);
      held->weights = std::move(w);
      settle({}, errc::bad_update);
    });
  };
  fan_out<fit_result>(*st.watch, late, ex.rounds.timeout_s, [msg](const peer&) { return msg; },
                      [=](fan_in<fit_result>& fits) {
    auto& st = self->state;
    const auto& ex = st.opt.experiment;
    auto dim = ex.clustering.sketch_dim > 0 ? ex.clustering.sketch_dim : st.opt.model.parameters;
    std::vector<fl::late_joiner> joiners;
    for (auto& [id, r] : fits.results) {
      st.samples_of[id] = r.samples;
      joiners.push_back({id, ex.clustering.sketch_dim > 0
                               ? std::make_shared<const std::vector<float>>(fl::sketch(r.weights.values(), dim, ex.seed))
                               : r.weights.data});
    }
    for (const auto& f : fits.failures)
      st.observer->on_warning("late client " + std::to_string(f.id) + " could not join: " + f.reason);
    auto placed = fl::place_late_joiners(st.phase.registry(), st.points, joiners, round);
    st.points.clear(); // nobody else will need the features
    std::vector<peer> joined;
    for (const auto& rec : placed)
      joined.push_back(st.clients[rec.client]);
    // The initial global model on the joiners' local splits, the baseline the report compares.
    auto eval = std::make_tuple(evaluate_atom::value, weight_blob{st.opt.model.layout, st.report->initial_global});
    fan_out<eval_result>(*st.watch, joined, ex.rounds.timeout_s, [eval](const peer&) { return eval; },
                         [self, round, placed](fan_in<eval_result>& evals) {
                           auto& st = self->state;
                           for (const auto& [id, e] : evals.results)
                             st.report->initial_personalized[id] = e.accuracy;
                           carry_out(self, st.phase.joiners_placed(round, placed, since(st.phase_start)));
                         });
  }, fetching);
}

} // namespace flotilla::actors::phases
