#pragma once
#include <caf/all.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>

#include "actors/secure_member.hpp"
#include "actors/down_watch.hpp"
#include "actors/handles.hpp"
#include "actors/node_context.hpp"
#include "actors/protocol.hpp"
#include "fl/layer_history.hpp"
#include "fl/strategy.hpp"

namespace flotilla::actors {

/// What a promoted client holds while it serves its cluster.
class async_steps;

struct server_state {
  server_role role;                        ///< cluster, term, round rules
  /// This cluster's aggregation point. Shared: a round in flight holds it, so a demotion (or a new
  /// promotion) during the round cannot free it under the round.
  std::shared_ptr<fl::strategy> strategy;
  weight_blob model;                       ///< the cluster model after the last round
  std::shared_ptr<async_steps> steps;      ///< strategy.mode=buffered|async: its asynchronous steps
};

/// A federated client: ids, partition indices (in the shared node context) and running totals,
/// never a copy of the data. Training goes to the node's trainer pool.
struct client_state {
  std::uint32_t id = 0;
  std::shared_ptr<const node_context> ctx;
  trainer_pool_handle pool;
  double cpu_seconds = 0; ///< CPU time of every training so far
  std::optional<std::chrono::steady_clock::time_point> first_fit;
  std::optional<server_state> server;    ///< set while promoted
  std::shared_ptr<down_watch> watch;     ///< fails requests to members that go down
  double slow_s = 0;                     ///< injected fault: answer fits this much later
  std::uint64_t next_delayed = 0;
  std::map<std::uint64_t, std::pair<caf::typed_response_promise<fit_result>, fit_result>> delayed;
  fl::layer_history layers;              ///< model.buffers=local: its BatchNorm layers, a version per fit
  bool layers_loaded = false;            ///< the history on disk was read (once per actor: load_layers)
  secure_sessions secure;                ///< privacy.secure_aggregation: updates kept for masking
  bool crash_in_secagg = false;          ///< injected fault: crash mid-protocol at the next secure round
  bool inconsistent_model = false;       ///< injected attack: the next secure round sends one member another model
  static inline const char* name = "flotilla.client";
};

using client_actor = caf::stateful_actor<client_state>;

/// Client behaviour (state diagram):
///
///   client ──promote(server_role)──► cluster server ──demote──► client
///     │                                (still a client: the client handlers stay, the
///     │                                 aggregator handlers are added)
///     └──fault(hang)──► hung (answers nothing) ──after the given seconds──► as before
///
/// Client requests (client_handle, protocol.hpp): fit, evaluate, losses, resources, fault, ping,
/// restore (a resume: FedBN's layers from this machine's disk), promote, demote; a cluster round to a client that does not serve is answered with an error.
/// Server adds: the cluster round itself.
caf::behavior client(client_actor* self, std::uint32_t id, std::shared_ptr<const node_context> ctx,
                     trainer_pool_handle pool);

/// Seed rule inputs -> (cpu%, mem%): a device profile replaces the host's standing load; the
/// client's own share (its training CPU over the window, its bytes over host memory) is added.
resource_report make_resource_report(std::uint32_t id, const node_context& ctx, double own_cpu_seconds,
                                     double window_seconds, double host_cpu, double host_mem);

} // namespace flotilla::actors
