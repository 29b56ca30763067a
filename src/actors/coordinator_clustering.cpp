// Clustering: the clients' features of the last initial round grouped by the configured
// method (k chosen by silhouette when "auto"), a 2-D projection for the report, and the
// initial global model's accuracy on every client's local split as the clusters' baseline.
#include "actors/coordinator_phases.hpp"
#include "fl/agglomerative.hpp"
#include "fl/cluster_methods.hpp"
#include "fl/kmeans.hpp"
#include "fl/small_clusters.hpp"
#include "fl/stragglers.hpp"
#include "fl/pca.hpp"
#include "fl/silhouette.hpp"
#include "fl/sketch.hpp"

namespace flotilla::actors::phases {

namespace {

// Groups the features; returns the assignment (by position) and sets k.
std::vector<std::uint32_t> group(coordinator_actor* self, const std::vector<const float*>& points, std::size_t dim,
                                 const std::vector<const float*>& updates, std::uint32_t& k) {
  auto& st = self->state;
  const auto& cl = st.opt.experiment.clustering;
  auto n = static_cast<std::uint32_t>(points.size());
  // One cluster needs no clustering. CFL (Sattler et al.): everyone starts in one cluster and
  // splits from there.
  const auto& method = fl::cluster_method_named(cl.method);
  if (method.initial == fl::cluster_method::grouping::one_cluster || cl.k == 1) {
    k = 1;
    return std::vector<std::uint32_t>(n, 0);
  }
  std::function<std::vector<std::uint32_t>(std::uint32_t)> cluster;
  if (method.initial == fl::cluster_method::grouping::agglomerative) {
    auto l = cl.linkage == "ward" ? fl::linkage::ward : fl::linkage::average_cosine;
    // Ward on the weights themselves; cosine on the updates w - w_global (FL+HC).
    const auto& input = l == fl::linkage::ward ? points : updates;
    cluster = [&input, dim, l](std::uint32_t kk) { return fl::agglomerative(input, dim, kk, l); };
  } else { // k-means (IFCA starts from it too)
    cluster = [&points, dim, &cl, seed = st.opt.experiment.seed](std::uint32_t kk) {
      return fl::kmeans(points, dim, {kk, cl.restarts, cl.max_iterations, seed}).assignment;
    };
  }
  if (cl.k == 0) {
    if (n < 3) {
      st.observer->on_warning("only " + std::to_string(n) + " clients to cluster: k = auto takes 1");
      k = 1;
      return std::vector<std::uint32_t>(n, 0);
    }
    auto choice = fl::choose_k(points, dim, std::min(cl.k_max, n - 1), cluster);
    st.report->silhouette = choice.scores;
    k = choice.k;
    return choice.assignment;
  }
  k = std::min(cl.k, n);
  if (k < cl.k)
    st.observer->on_warning("only " + std::to_string(n) + " clients to cluster; k lowered to " + std::to_string(k));
  return cluster(k);
}

} // namespace

caf::message_handler clustering(coordinator_actor* self) {
  return {
    [=](next_atom, std::uint32_t) {
      auto& st = self->state;
      auto& rep = *st.report;
      const auto& ex = st.opt.experiment;
      const auto& cl = ex.clustering;
      rep.initial_seconds = since(st.phase_start);
      st.phase_start = std::chrono::steady_clock::now();
      rep.initial_global = st.global.values();
      rep.initial_global_accuracy = rep.rounds.empty() ? 0 : rep.rounds.back().test_accuracy;
      rep.clustering_method = cl.method;
      if (st.points.empty())
        return fail_run(self, errc::round_failed, "no client answered in the last initial round: nothing to cluster");
      st.observer->on_phase("clustering", cl.method + (cl.k == 0 ? ", k=auto" : ", k=" + std::to_string(cl.k)) +
                                            " on " + std::to_string(st.points.size()) + " clients" +
                                            (cl.sketch_dim > 0 ? " (sketches)" : ""));
      std::vector<const float*> points;
      std::vector<std::uint32_t> ids;
      for (const auto& [id, p] : st.points) {
        ids.push_back(id);
        points.push_back(p->data());
      }
      std::size_t dim = cl.sketch_dim > 0 ? cl.sketch_dim : st.opt.model.parameters;
      // Updates relative to the model the round started from (sketches are linear, so the
      // sketch of an update is the difference of sketches).
      std::vector<std::vector<float>> deltas;
      std::vector<const float*> updates;
      if (fl::cluster_method_named(cl.method).initial == fl::cluster_method::grouping::agglomerative &&
          cl.linkage != "ward" && cl.k != 1) {
        auto start = cl.sketch_dim > 0 ? fl::sketch(st.last_start.values(), dim, ex.seed) : st.last_start.values();
        for (auto* p : points) {
          std::vector<float> d(dim);
          for (std::size_t i = 0; i < dim; ++i)
            d[i] = p[i] - start[i];
          deltas.push_back(std::move(d));
        }
        for (const auto& d : deltas)
          updates.push_back(d.data());
      }
      std::uint32_t k = 0;
      auto found = group(self, points, dim, updates, k);
      // Secure aggregation: a cluster that could not hide its members' updates would never
      // aggregate; it joins its nearest cluster instead.
      if (ex.privacy.secure_aggregation && k > 1) {
        auto before = k;
        // Its rounds sample rounds.fraction_fit of it, less stragglers not asked.
        auto need = fl::secure_cluster_size(ex.privacy.min_cluster, ex.rounds.fraction_fit, ex.rounds.stragglers.fraction,
                                            fl::keeps_stragglers(ex.rounds.stragglers, ex.strategy.name), points.size());
        if (ex.async.mode == "buffered") // FedBuff draws among every member: min_cluster besides the server
          need = std::min<std::size_t>(ex.privacy.min_cluster + 1, points.size());
        k = fl::merge_small_clusters(found, points, dim, k, need);
        if (k < before)
          st.observer->on_warning("privacy.secure_aggregation: " + std::to_string(before - k) + " of " +
                                  std::to_string(before) + " clusters had fewer than " + std::to_string(need) +
                                  " clients (a round must sum privacy.min_cluster = " +
                                  std::to_string(ex.privacy.min_cluster) +
                                  " members besides the server) and were merged into their nearest; k = " +
                                  std::to_string(k));
      }
      rep.k = k;
      std::vector<std::uint32_t> assignment(st.clients.size(), fl::cluster_registry::unassigned);
      for (std::size_t i = 0; i < ids.size(); ++i)
        assignment[ids[i]] = found[i];
      // One cluster asked for needs no features: everyone is in it, also the clients the last
      // round did not sample (a run stopped at its target accuracy before its last, all-client
      // round). A k lowered to 1 because few clients answered keeps the others out.
      if (cl.k == 1)
        std::fill(assignment.begin(), assignment.begin() + ex.clients, 0);
      else if (ids.size() < ex.clients)
        st.observer->on_warning(std::to_string(ex.clients - ids.size()) +
                                " clients sent no weights in the last initial round and stay unclustered");
      st.phase.registry().create(assignment, k, st.global.data, fl::strategy_state{ex.strategy.name, 0, {}});
      for (auto id : st.lost_early)
        if (st.phase.registry().clients().count(id))
          st.phase.registry().mark_lost(id, "down before clustering");
      auto projected = fl::pca2(points, dim); // the report's picture of the clustering
      for (std::size_t i = 0; i < ids.size(); ++i)
        rep.projection[ids[i]] = projected[i];
      if (ex.late_clients == 0)
        st.points.clear(); // no late joiner will need the centroids: release every client's features
      // The initial global model on every client's local split: the baseline for the clusters.
      rep.initial_personalized.assign(st.clients.size(), -1.0);
      auto msg = std::make_tuple(evaluate_atom::value, st.global);
      std::vector<peer> present(st.clients.begin(), st.clients.begin() + ex.clients);
      fan_out<eval_result>(*st.watch, present, ex.rounds.timeout_s, [msg](const peer&) { return msg; },
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

} // namespace flotilla::actors::phases
