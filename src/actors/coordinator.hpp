#pragma once
#include <caf/all.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <functional>
#include <set>

#include "actors/down_watch.hpp"
#include "actors/handles.hpp"
#include "actors/protocol.hpp"
#include "fl/checkpoint.hpp"
#include "fl/cluster_phase.hpp"
#include "fl/device_time.hpp"
#include "fl/experiment.hpp"
#include "fl/run_report.hpp"
#include "fl/strategy.hpp"
#include "model/model_spec.hpp"

namespace flotilla::fl::privacy {
class rdp_accountant;
}
namespace flotilla::fl::secagg {
class model_registrar;
}

namespace flotilla::actors {

/// What the coordinator needs to know of the run, as plain values.
struct coordinator_options {
  fl::experiment experiment;
  model::model_spec model;
  std::uint32_t epochs = 0;         ///< local epochs, to count sample-passes
  std::vector<float> initial_model;
  std::shared_ptr<const fl::checkpoint> resume; ///< continue from here instead of starting afresh
  double liveness_s = 10;           ///< a cluster server is pinged this often (0: never; runtime.liveness_s)
  /// privacy.secure_aggregation: the key that signs every secure round's model (the clients
  /// hold its public half: node_context::registrar_key).
  std::shared_ptr<const fl::secagg::model_registrar> registrar;
  /// strategy.mode=buffered|async: wall seconds at least between two checkpoints of the
  /// asynchronous steps, which hold every model version a fit in flight was sent (0: every
  /// evaluated step; runtime.async_checkpoint_s).
  double async_checkpoint_s = 30;
  bool local_layers = false;        ///< model.buffers=local: a resume restores each client's layer history
  std::shared_ptr<const fl::device_clock> clock; ///< clock=virtual: the fleet's devices (null: wall clock)
  /// Set when registered clients are descriptors (a client without a handle has no actor until
  /// it is sampled): gives a sampled client its actor, which is let go after its round.
  std::function<client_handle(std::uint32_t)> spawn_client;
};

struct async_run; // coordinator_async.cpp

struct coordinator_state {
  coordinator_options opt;
  std::vector<peer> clients;              ///< by id, late joiners included (a handle arrives with them)
  trainer_pool_handle pool;
  std::shared_ptr<fl::run_observer> observer;
  std::shared_ptr<fl::run_report> report;
  caf::response_promise done;
  weight_blob global;
  weight_blob last_start;                 ///< the model the last initial round started from
  std::unique_ptr<fl::strategy> strategy; ///< the coordinator's own aggregation point
  std::map<std::uint32_t, std::shared_ptr<const std::vector<float>>> points; ///< clustering features
  std::vector<std::uint64_t> samples_of;  ///< training samples per client
  std::uint64_t durable_step = 0;         ///< the last checkpoint's fl::layer_step (fit_ins::durable)
  std::chrono::steady_clock::time_point run_start = std::chrono::steady_clock::now();
  double wall_offset = 0;                 ///< clock=wall: the run's seconds before a resume (run_clock)
  std::shared_ptr<async_run> async;       ///< strategy.mode=buffered|async: the initial phase's fits in flight
  std::shared_ptr<fl::privacy::rdp_accountant> accountant; ///< privacy.dp: the coordinator's rounds' privacy loss
  fl::cluster_phase phase;                ///< the clusters (its registry) and each one's progress
  std::deque<fl::phase_command> commands; ///< the phase's commands not yet carried out (carry_out)
  bool carrying_out = false;
  std::set<std::uint32_t> lost_early;     ///< clients gone before the registry existed
  std::map<caf::actor_addr, std::uint32_t> id_of;
  std::function<void()> join_waiting;     ///< the late join, once every late client has arrived
  std::chrono::steady_clock::time_point phase_start;
  std::shared_ptr<down_watch> watch;      ///< fails requests to peers that go down
  static inline const char* name = "flotilla.coordinator";
};

using coordinator_actor = caf::stateful_actor<coordinator_state>;

/// The coordinator runs a whole clustered-FL run as a chain of phases, one behaviour each:
///
///   idle ──run──► initial ──(rounds.initial rounds through the round engine)──► clustering
///        (k-means / agglomerative / one cluster for CFL; k by silhouette when "auto")
///        ──► selection (resource reports; per cluster the lowest score serves)
///        ──► cluster rounds: fl::cluster_phase decides, the actor carries out: each cluster's
///              server promoted, then its rounds on its own; common points only where a method
///              needs one (IFCA, CFL, late joiners; fl/cluster_phase.hpp says which and why)
///        ──► evaluation (global + per-cluster models) ──► done (answers run, quits)
///
/// A server that is lost (DOWN, its node gone or hung, no answer by the round's deadline) is
/// replaced by the live member with the next-lowest score, promoted with the cluster's latest
/// model and strategy state, and the round is re-run (the phase's rule). Each phase starts on a
/// `next` message it sends itself, so the mailbox stays live between steps. When the run cannot go on (every client failed with a model, data or configuration
/// error), `run` is answered with that error.
caf::behavior coordinator(coordinator_actor* self, coordinator_options options, std::vector<peer> clients,
                          trainer_pool_handle pool, std::shared_ptr<fl::run_observer> observer,
                          std::shared_ptr<fl::run_report> report);

} // namespace flotilla::actors
