#pragma once
#include <caf/all.hpp>

#include <chrono>
#include <map>
#include <memory>

#include "actors/down_watch.hpp"
#include "actors/protocol.hpp"
#include "fl/experiment.hpp"
#include "fl/run_report.hpp"
#include "fl/strategy.hpp"
#include "model/model_spec.hpp"

namespace flotilla::actors {

/// What the coordinator needs to know of the run, as plain values.
struct coordinator_options {
  fl::experiment experiment;
  model::model_spec model;
  std::uint32_t epochs = 0;         ///< local epochs, to count sample-passes
  std::vector<float> initial_model;
};

/// One cluster as the coordinator tracks it during the cluster phase.
struct cluster_track {
  std::vector<peer> members;        ///< sorted by id
  peer server;
  weight_blob model;                ///< after the last finished round
  fl::strategy_state state;         ///< the cluster strategy's state after that round
  std::uint32_t rounds_done = 0;
  std::uint32_t term = 1;
  bool failed = false;
  std::string failure;
};

struct coordinator_state {
  coordinator_options opt;
  std::vector<peer> clients;
  caf::actor pool;
  std::shared_ptr<fl::run_observer> observer;
  std::shared_ptr<fl::run_report> report;
  caf::response_promise done;
  weight_blob global;
  std::unique_ptr<fl::strategy> strategy; ///< the coordinator's own aggregation point
  std::map<std::uint32_t, std::shared_ptr<const std::vector<float>>> points; ///< clustering features
  std::vector<std::uint64_t> samples_of; ///< training samples per client
  std::vector<cluster_track> clusters;
  std::size_t clusters_running = 0;
  std::chrono::steady_clock::time_point phase_start;
  std::shared_ptr<down_watch> watch; ///< fails requests to peers that go down
  static inline const char* name = "flotilla.coordinator";
};

using coordinator_actor = caf::stateful_actor<coordinator_state>;

/// The coordinator runs a whole clustered-FL run as a chain of phases, one behaviour each:
///
///   idle ──run──► initial ──(rounds.initial rounds through the round engine)──► clustering
///        ──► selection (resource reports, argmin per cluster, promote)
///        ──► cluster rounds (each cluster independently, rounds.cluster rounds)
///        ──► evaluation (global + per-cluster models) ──► done (answers run, quits)
///
/// Each phase starts on a `next` message it sends itself, so the mailbox stays live between
/// steps. The run's results go to `report`; progress to `observer`. When the run cannot go on
/// (every client failed with a model, data or configuration error), `run` is answered with
/// that error.
caf::behavior coordinator(coordinator_actor* self, coordinator_options options, std::vector<peer> clients,
                          caf::actor pool, std::shared_ptr<fl::run_observer> observer,
                          std::shared_ptr<fl::run_report> report);

} // namespace flotilla::actors
