#pragma once
#include <caf/all.hpp>

#include <string>
#include <vector>

#include "actors/protocol.hpp"
#include "config/settings.hpp"

namespace flotilla::runtime {

/// Which node hosts each client: node i of n gets clients i, i + n, ... (round_robin) or a
/// contiguous range (block).
std::vector<std::vector<std::uint32_t>> place_clients(std::uint32_t clients, std::size_t nodes,
                                                      const std::string& placement);

/// remote_actor with retries: 0.17.6 drops an outgoing connection with a spurious
/// connection_timeout when the peer's handshake misses the first heartbeat tick (docs/caf-notes.md §5).
/// Throws std::runtime_error saying what to check when the node stays unreachable.
caf::actor connect_node(caf::actor_system& sys, const std::string& address, const config::runtime_options& rt);

/// Connects every node, asks each to host its share of the clients, and returns the clients in
/// id order; `managers` receives each node's manager (for teardown), even on failure.
/// `registrar_key`: the coordinator's model-registration key in hex (secure aggregation), or empty.
std::vector<actors::peer> spawn_remote_clients(caf::actor_system& sys, caf::scoped_actor& self,
                                               const config::settings& s, const std::string& config_json,
                                               const std::string& fingerprint, const std::string& registrar_key,
                                               std::vector<caf::actor>& managers);

} // namespace flotilla::runtime
