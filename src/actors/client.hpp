#pragma once
#include <caf/all.hpp>

#include <chrono>
#include <memory>
#include <optional>

#include "actors/fan_out.hpp"
#include "actors/node_context.hpp"
#include "actors/protocol.hpp"

namespace flotilla::actors {

/// What a promoted client holds while it serves its cluster.
struct server_role {
  cluster_spec spec;
  weight_blob model;
};

/// A federated client: ids, partition indices (in the shared node context) and running totals,
/// never a copy of the data. Training goes to the node's trainer pool.
struct client_state {
  std::uint32_t id = 0;
  std::shared_ptr<const node_context> ctx;
  caf::actor pool;
  double cpu_seconds = 0; ///< CPU time of every training so far
  double last_loss = 0;   ///< training loss of the last fit
  std::uint32_t last_round = 0;
  std::optional<std::chrono::steady_clock::time_point> first_fit;
  std::uint32_t cluster = UINT32_MAX;
  caf::actor server;
  std::optional<server_role> role; ///< set once promoted
  down_watch watch;                ///< fails requests to members that go DOWN
  static inline const char* name = "flotilla.client";
};

using client_actor = caf::stateful_actor<client_state>;

/// Client behaviour (state diagram):
///
///   client ──promote(cluster_spec, model)──► cluster server (still a client: the client
///                                              handlers stay, the aggregator handlers are added)
///
/// Client requests: fit, evaluate, resources, member. Server adds: cluster round.
caf::behavior client(client_actor* self, std::uint32_t id, std::shared_ptr<const node_context> ctx,
                     caf::actor pool);

/// Seed rule inputs -> (cpu%, mem%): a device profile replaces the host's standing load; the
/// client's own share (its training CPU over the window, its bytes over host memory) is added.
resource_report make_resource_report(std::uint32_t id, const node_context& ctx, double own_cpu_seconds,
                                     double window_seconds, double host_cpu, double host_mem);

} // namespace flotilla::actors
