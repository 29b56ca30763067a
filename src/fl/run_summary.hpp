#pragma once
// The sections of summary.json as records, so their fields are named once (record_fields.hpp)
// and the writer (app/outputs.cpp) and every reader (the closing table, the report) go through
// the same list.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace flotilla::fl {

/// summary.json "final": what the run ended with.
struct summary_final {
  double global_accuracy = 0;
  double personalized_accuracy = 0;                ///< mean over clients with a local test split
  double initial_global_personalized_accuracy = 0; ///< the same, of the initial global model
  double initial_global_accuracy = 0;
  std::map<std::string, double> cluster_accuracy;  ///< by cluster id
  std::string global_model_sha256;
  std::int64_t rounds_to_target = -1;              ///< null: the target was not reached (or none set)
  double sim_time_s = 0;            ///< the run's length in simulated seconds (clock=virtual; wall: the wall clock's)
  double sim_time_to_target_s = -1; ///< when a round first reached rounds.target_accuracy (null: never)
  double epsilon = -1;              ///< privacy.dp: the largest epsilon over aggregation points (null: no DP)
};

/// summary.json "timing": where the time and memory went.
struct summary_timing {
  double total_s = 0;
  double initial_s = 0;
  double clustering_s = 0;
  double cluster_rounds_s = 0;
  double cluster_wait_s = 0;   ///< summed over clusters: ready for a round, held at a common point
  double evaluation_s = 0;
  std::uint64_t samples_trained = 0;
  std::uint64_t samples_evaluated = 0;
  double samples_per_s = 0;
  std::uint64_t weight_bytes_moved = 0;
  std::uint64_t peak_rss_bytes = 0;
};

/// summary.json "clients": one entry per client.
struct summary_client {
  std::int64_t cluster = -1;                ///< null: in no cluster (lost, or never placed)
  double personalized_accuracy = -1;
  double initial_global_accuracy = -1;
  std::uint64_t train_samples = 0;
  std::uint64_t test_samples = 0;
  std::vector<std::uint32_t> label_histogram;
  std::int64_t group = -1;                  ///< null: the partition has no true groups
  double ms_per_sample = 0;                 ///< clock=virtual: its device (null under the wall clock)
  double kbps = 0;
};

} // namespace flotilla::fl
