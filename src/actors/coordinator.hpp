#pragma once
#include <caf/all.hpp>

#include <chrono>
#include <map>
#include <memory>

#include "actors/fan_out.hpp"
#include "actors/protocol.hpp"
#include "fl/run_report.hpp"
#include "model/model_spec.hpp"

namespace flotilla::actors {

/// What the coordinator needs to know of the run, as plain values.
struct coordinator_config {
  std::uint64_t seed = 0;
  std::uint32_t initial_rounds = 3;
  std::uint32_t cluster_rounds = 3;
  double fraction_fit = 1.0;
  double quorum = 0.5;
  double timeout_s = 600;
  std::uint32_t k = 2;
  std::uint32_t restarts = 10;
  std::uint32_t max_iterations = 100;
  std::uint32_t sketch_dim = 0;
  std::uint32_t epochs = 1; ///< local epochs, to count sample-passes
  model::model_spec model;
  std::vector<float> initial_model;
};

/// One cluster as the coordinator tracks it during the cluster phase.
struct cluster_track {
  std::vector<peer> members;
  peer server;
  weight_blob model;
  std::uint32_t rounds_done = 0;
  bool failed = false;
  std::string failure;
};

struct coordinator_state {
  coordinator_config cfg;
  std::vector<peer> clients;
  caf::actor pool;
  std::shared_ptr<fl::run_observer> observer;
  std::shared_ptr<fl::run_report> report;
  caf::response_promise done;
  weight_blob global;
  std::map<std::uint32_t, std::shared_ptr<const std::vector<float>>> points; ///< clustering features of the last initial round
  std::vector<std::uint64_t> samples_of; ///< training samples per client
  std::vector<cluster_track> clusters;
  std::size_t clusters_running = 0;
  std::chrono::steady_clock::time_point phase_start;
  down_watch watch; ///< fails requests to peers that go DOWN
  static inline const char* name = "flotilla.coordinator";
};

using coordinator_actor = caf::stateful_actor<coordinator_state>;

/// The coordinator runs a whole clustered-FL run as a chain of phases, one behaviour each:
///
///   idle ──run──► initial ──(rounds.initial rounds of FedAvg)──► clustering (K-means)
///        ──► selection (resource reports, argmin per cluster, promote, tell members)
///        ──► cluster rounds (each cluster independently, rounds.cluster rounds)
///        ──► evaluation (global + per-cluster models) ──► done (answers run, quits)
///
/// Each phase starts on a `next` message it sends itself, so the mailbox stays live between
/// steps. The run's results go to `report`; progress to `observer`.
caf::behavior coordinator(coordinator_actor* self, coordinator_config cfg, std::vector<peer> clients,
                          caf::actor pool, std::shared_ptr<fl::run_observer> observer,
                          std::shared_ptr<fl::run_report> report);

} // namespace flotilla::actors
