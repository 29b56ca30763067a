// Evaluation: the global model (the sample-weighted mean of the live clusters' models) on the
// test set, each cluster's model on its members' local splits, and the clusters as reported.
#include <algorithm>

#include "actors/coordinator_phases.hpp"
#include "actors/round_engine.hpp"
#include "fl/aggregate.hpp"
#include "fl/cluster_methods.hpp"

namespace flotilla::actors::phases {

namespace {

// The registry's clusters as the report shows them.
void report_clusters(coordinator_actor* self) {
  auto& st = self->state;
  auto& rep = *st.report;
  rep.clusters.resize(st.phase.registry().clusters().size());
  rep.assignment.assign(st.clients.size(), fl::no_cluster);
  for (const auto& c : st.phase.registry().clusters()) {
    auto& out = rep.clusters[c.id];
    out.id = c.id;
    out.members = c.members;
    out.server = c.server ? *c.server : static_cast<std::uint32_t>(std::max<std::int64_t>(0, c.last_server));
    out.term = c.term;
    out.elections = c.elections;
    out.created_round = c.created_round;
    out.parent = c.parent;
    out.rounds_done = c.rounds_done;
    out.failed = c.failed;
    out.failure = c.failure;
    out.samples = 0;
    for (auto id : c.members) {
      out.samples += st.samples_of[id];
      rep.assignment[id] = c.id;
    }
    out.model = c.model ? *c.model : std::vector<float>{};
    auto w = st.phase.waited().find(c.id);
    out.waited_seconds = w == st.phase.waited().end() ? 0.0 : w->second;
  }
}

// Each live member evaluates its cluster's model on its local split.
void evaluate_members(coordinator_actor* self) {
  auto& st = self->state;
  std::vector<peer> members;
  std::map<std::uint32_t, weight_blob> msgs;
  for (const auto& c : st.phase.registry().clusters()) {
    if (c.failed || !c.model)
      continue;
    auto msg = weight_blob{st.opt.model.layout, c.model};
    for (const auto& m : member_peers(self, c.id)) {
      members.push_back(m);
      msgs[m.id] = msg;
    }
  }
  std::sort(members.begin(), members.end(), [](const peer& a, const peer& b) { return a.id < b.id; });
  fan_out<eval_result>(*st.watch, members, st.opt.experiment.rounds.timeout_s,
                       [msgs](const peer& p) { return std::make_tuple(evaluate_atom::value, msgs.at(p.id)); },
                       [=](fan_in<eval_result>& evals) {
                         auto& st = self->state;
                         auto& rep = *st.report;
                         rep.personalized.assign(st.clients.size(), -1.0);
                         std::vector<std::vector<std::pair<std::uint32_t, eval_result>>> per(rep.clusters.size());
                         for (const auto& [id, e] : evals.results) {
                           rep.personalized[id] = e.accuracy;
                           rep.samples_evaluated += e.samples;
                           per[rep.assignment[id]].emplace_back(id, e);
                         }
                         for (std::size_t c = 0; c < rep.clusters.size(); ++c)
                           rep.clusters[c].accuracy = combine(per[c]).accuracy;
                         for (const auto& f : evals.failures)
                           st.observer->on_warning("client " + std::to_string(f.id) + " could not evaluate: " + f.reason);
                         rep.evaluation_seconds = since(st.phase_start);
                         st.done.deliver(caf::ok_atom::value);
                         self->quit();
                       });
}

} // namespace

caf::message_handler evaluation(coordinator_actor* self) {
  return {
    [=](next_atom, std::uint32_t) {
      auto& st = self->state;
      auto& rep = *st.report;
      const auto& method = st.opt.experiment.clustering.method;
      const bool plain = fl::plain_fl(method);
      if (plain) {
        rep.initial_seconds = since(st.phase_start); // plain FL: its rounds are all initial ones
        rep.clustering_method = method;
      } else {
        rep.cluster_seconds = since(st.phase_start);
      }
      st.phase_start = std::chrono::steady_clock::now();
      st.observer->on_phase("evaluation", plain
                                            ? "global model on the test set"
                                            : "global model on the test set, cluster models on local splits");
      // The run's end: the last cluster's clock (clusters run on their own clocks).
      double end = rep.sim_time_s;
      for (const auto& c : st.phase.registry().clusters())
        end = std::max(end, c.sim_time_s);
      rep.sim_time_s = run_clock(self, end);
      // After what every live cluster has done: rounds.cluster, or fewer when privacy.epsilon_budget
      // ended clusters early (a resume then finds them over budget again and evaluates).
      if (st.opt.experiment.rounds.cluster > 0)
        save_checkpoint(self, "cluster", st.phase.rounds_done_by_all());
      // A cluster phase that lost every cluster (every member crashed, hung or its node died)
      // produced nothing to evaluate: the run fails rather than report the initial model as
      // its result (issue 15, finding 6's family).
      const auto& clusters = st.phase.registry().clusters();
      if (st.opt.experiment.rounds.cluster > 0 && !clusters.empty() &&
          std::all_of(clusters.begin(), clusters.end(), [](const fl::cluster_record& c) { return c.failed; })) {
        std::string why;
        for (const auto& c : clusters)
          why += (why.empty() ? "" : "; ") + ("cluster " + std::to_string(c.id) + ": " + c.failure);
        return fail_run(self, errc::round_failed,
                        "every cluster failed, so the cluster phase has no result (" + why +
                          "); the clients were lost (metrics.jsonl lists each failure)");
      }
      // Plain FL (clustering.method=none) ends its initial phase here.
      if (rep.initial_global.empty())
        rep.initial_global = st.global.values();
      report_clusters(self);
      // The global model: live cluster models weighted by their members' samples.
      std::vector<fl::weighted_update> parts;
      for (const auto& out : rep.clusters)
        if (!out.failed && out.samples > 0 && !out.model.empty())
          parts.push_back({out.id, out.samples, &out.model});
      rep.global_model = parts.empty() ? st.global.values() : fl::weighted_mean(parts);
      // Plain FL: the last round's model is the result, and that round may have evaluated it on
      // the same test rows already (a million clients' test set is not evaluated twice).
      if (plain && !rep.rounds.empty() && rep.rounds.back().aggregated &&
          rep.rounds.back().test_accuracy != fl::not_evaluated) {
        rep.global_accuracy = rep.initial_global_accuracy = rep.rounds.back().test_accuracy;
        return evaluate_members(self);
      }
      self->request(st.pool, deadline(st.opt.experiment.rounds.timeout_s), assess_atom::value, test_set,
                    weight_blob{st.opt.model.layout, rep.global_model})
        .then(
          [=](eval_result& e) {
            auto& rep = *self->state.report;
            rep.global_accuracy = e.accuracy;
            if (plain) // plain FL: the rounds' model is the initial global one
              rep.initial_global_accuracy = e.accuracy;
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
