#pragma once
#include <caf/fwd.hpp>
#include <caf/actor.hpp>

#include <cstdint>
#include <string>

namespace flotilla::net {

/// With middleman.enable-automatic-connections, CAF 0.17.6 opens a second plain-TCP listener
/// on every interface (basp_broker::make_behavior, add_tcp_doorman(0)) and advertises it to
/// peers through its config server ("basp.default-connectivity-tcp"), so node-to-node links
/// would bypass the guard. This closes that listener and advertises `guard_port` instead
/// (only `bind`'s address, unless the guard listens on all). Returns CAF's port, 0 if it had
/// none. Blocking (a few local requests); call before the guard accepts connections.
std::uint16_t adopt_automatic_connections(caf::actor_system& sys, const caf::actor& basp, std::uint16_t guard_port,
                                          const std::string& bind);

/// The port CAF's config server advertises for automatic connections (0: none).
std::uint16_t advertised_automatic_port(caf::actor_system& sys);

} // namespace flotilla::net
