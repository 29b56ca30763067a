#pragma once
// One field list per record (review P3): each record's fields are named here once, in order, and
// every format is generated from that list: the CAF inspector (actors/protocol.hpp), JSON for
// metrics.jsonl, checkpoints and outputs (app/record_json.hpp), metrics.csv's columns. A field
// added here appears in all of them.
//
// A list calls `f(name, member)` for each field, or `f(name, member, none)` for a field whose
// value `none` means "not set" (written as null in JSON: a round of the initial phase has no
// cluster, a first server had no predecessor).
#include "fl/cluster_registry.hpp"
#include "fl/run_report.hpp"
#include "fl/run_summary.hpp"

#include <string>
#include <vector>

namespace flotilla::fl {

template <class R, class F>
void round_record_fields(R& x, F&& f) {
  f("phase", x.phase);
  f("round", x.round);
  f("cluster", x.cluster, no_cluster);
  f("server", x.server, no_cluster);
  f("term", x.term);
  f("asked", x.asked);
  f("clients", x.clients);
  f("failures", x.failures);
  f("failed", x.failed);
  f("failure_reasons", x.failure_reasons);
  f("aggregated", x.aggregated);
  f("not_aggregated", x.not_aggregated);
  f("samples", x.samples);
  f("train_loss", x.train_loss);
  f("test_loss", x.test_loss, not_evaluated);
  f("test_accuracy", x.test_accuracy, not_evaluated);
  f("evaluated", x.evaluated);
  f("seconds", x.seconds);
  f("fit_seconds", x.fit_seconds);
  f("sim_time_s", x.sim_time_s);
  f("reassigned", x.reassigned);
  f("update_norm_mean", x.update_norm_mean);
  f("update_norm_max", x.update_norm_max);
  f("stragglers", x.stragglers);
  f("stragglers_kept", x.stragglers_kept);
  f("staleness_mean", x.staleness_mean);
  f("staleness_max", x.staleness_max);
  f("dropped_stale", x.dropped_stale);
  f("staleness", x.staleness);
  f("epsilon", x.epsilon, -1.0);
  f("noise_multiplier", x.noise_multiplier);
  f("secure_members", x.secure_members);
  f("secure_bits", x.secure_bits);
  f("secure_bytes_up", x.secure_bytes_up);
  f("secure_bytes_down", x.secure_bytes_down);
  f("clip", x.clip);
  f("clip_fraction", x.clip_fraction, -1.0);
}

template <class R, class F>
void election_fields(R& x, F&& f) {
  f("round", x.round);
  f("term", x.term);
  f("from", x.from, std::int64_t{-1});
  f("to", x.to);
  f("reason", x.reason);
}

template <class R, class F>
void client_score_fields(R& x, F&& f) {
  f("client", x.client);
  f("cpu", x.cpu);
  f("mem", x.mem);
  f("host_cpu", x.host_cpu);
  f("host_mem", x.host_mem);
  f("own_cpu_seconds", x.own_cpu_seconds);
  f("window_seconds", x.window_seconds);
  f("own_bytes", x.own_bytes);
  f("profiled", x.profiled);
}

template <class R, class F>
void late_join_fields(R& x, F&& f) {
  f("client", x.client);
  f("cluster", x.cluster);
  f("joined_round", x.joined_round);
  f("distances", x.distances);
}

template <class R, class F>
void applied_fault_fields(R& x, F&& f) {
  f("target", x.target);
  f("client", x.client, std::int64_t{-1});
  f("kind", x.kind);
  f("phase", x.phase);
  f("round", x.round);
  f("seconds", x.seconds);
}

/// A cluster as clusters.json records it (its model goes to models/cluster_<id>.pt instead).
template <class R, class F>
void cluster_report_fields(R& x, F&& f) {
  f("id", x.id);
  f("members", x.members);
  f("server", x.server);
  f("term", x.term);
  f("elections", x.elections);
  f("created_round", x.created_round);
  f("parent", x.parent, std::int64_t{-1});
  f("aggregator_actor", x.aggregator_actor);
  f("rounds_done", x.rounds_done);
  f("failed", x.failed);
  f("failure", x.failure, std::string{});
  f("samples", x.samples);
  f("accuracy", x.accuracy);
  f("waited_s", x.waited_seconds);
}

template <class R, class F>
void summary_final_fields(R& x, F&& f) {
  f("global_accuracy", x.global_accuracy);
  f("personalized_accuracy", x.personalized_accuracy);
  f("initial_global_personalized_accuracy", x.initial_global_personalized_accuracy);
  f("initial_global_accuracy", x.initial_global_accuracy);
  f("cluster_accuracy", x.cluster_accuracy);
  f("global_model_sha256", x.global_model_sha256);
  f("rounds_to_target", x.rounds_to_target, std::int64_t{-1});
  f("sim_time_s", x.sim_time_s);
  f("sim_time_to_target_s", x.sim_time_to_target_s, -1.0);
  f("epsilon", x.epsilon, -1.0);
}

template <class R, class F>
void summary_timing_fields(R& x, F&& f) {
  f("total_s", x.total_s);
  f("initial_s", x.initial_s);
  f("clustering_s", x.clustering_s);
  f("cluster_rounds_s", x.cluster_rounds_s);
  f("cluster_wait_s", x.cluster_wait_s);
  f("evaluation_s", x.evaluation_s);
  f("samples_trained", x.samples_trained);
  f("samples_evaluated", x.samples_evaluated);
  f("samples_per_s", x.samples_per_s);
  f("weight_bytes_moved", x.weight_bytes_moved);
  f("peak_rss_bytes", x.peak_rss_bytes);
}

template <class R, class F>
void summary_client_fields(R& x, F&& f) {
  f("cluster", x.cluster, std::int64_t{-1});
  f("personalized_accuracy", x.personalized_accuracy);
  f("initial_global_accuracy", x.initial_global_accuracy);
  f("train_samples", x.train_samples);
  f("test_samples", x.test_samples);
  f("label_histogram", x.label_histogram);
  f("group", x.group, std::int64_t{-1});
  f("ms_per_sample", x.ms_per_sample, 0.0);
  f("kbps", x.kbps, 0.0);
}

/// round_record's field names, in order: metrics.csv's columns.
inline std::vector<std::string> round_record_names() {
  std::vector<std::string> out;
  round_record r;
  round_record_fields(r, [&](const char* name, auto&&...) { out.emplace_back(name); });
  return out;
}

} // namespace flotilla::fl
