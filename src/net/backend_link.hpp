#pragma once
#include <caf/fwd.hpp>
#include <caf/actor.hpp>

#include <cstdint>
#include <string>

namespace flotilla::net {

/// The node's BASP broker, to which the guard hands each checked connection.
caf::actor basp_broker_of(caf::actor_system& sys);

/// Gives CAF a new connection from a peer the guard accepted, without any listening socket:
/// one end of a fresh AF_UNIX socket pair becomes a CAF scribe, handed to the BASP broker
/// with the `publish` message CAF's own tests use, so CAF sends its server handshake naming
/// `published` (under `port`) and reads BASP from it. The scribe reports the real peer's
/// address and port to CAF. Returns the guard's end (non-blocking); throws std::runtime_error.
int open_backend(caf::actor_system& sys, const caf::actor& basp, const caf::strong_actor_ptr& published,
                 std::uint16_t port, const std::string& peer_addr, std::uint16_t peer_port);

} // namespace flotilla::net
