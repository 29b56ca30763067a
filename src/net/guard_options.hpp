#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "net/message_types.hpp"

namespace flotilla::net {

/// How a guard listens and what it lets through to CAF. Defaults suit models of a few MB.
struct guard_options {
  std::string bind = "127.0.0.1"; ///< address of the public socket; "0.0.0.0" or "::" for all
  std::uint16_t port = 0;         ///< 0: any free port (guard::port() tells which)
  std::string cert, key, ca;      ///< all three: mutual TLS terminated by the guard; none: plain TCP
  double handshake_timeout_s = 5; ///< TLS and BASP handshake must both finish within this
  double message_timeout_s = 10;  ///< least time any one message may take to arrive
  std::size_t min_rate_bytes_per_s = 256u << 10; ///< a message of n bytes may take n / rate if longer
  std::size_t max_message_bytes = 64u << 20;     ///< larger messages close the connection
  std::size_t max_handshake_bytes = 64u << 10;   ///< larger first messages close the connection
  std::size_t in_flight_budget = 128u << 20; ///< bytes CAF may hold for incomplete messages, all peers
  std::size_t max_connections = 256;         ///< open connections, handshaking or not
  std::size_t max_pending_handshakes = 64;   ///< connections still handshaking; the oldest yields
  std::size_t relay_buffer_bytes = 256u << 10; ///< per direction, once a peer finished its handshake
  std::size_t handshake_buffer_bytes = 16u << 10; ///< per direction, before that
  /// Element types a message may hold; any other closes the connection (message_types.hpp).
  /// The default is what Flotilla exchanges; a guard in front of another actor adds its types.
  message_allowlist message_types = message_allowlist::flotilla();
  /// Plain TCP with middleman.enable-automatic-connections: close CAF's own unguarded listener
  /// for node-to-node links and advertise the guard's port instead.
  bool adopt_automatic_connections = true;
  /// Called on the guard's thread for each connection closed by a rule (one line naming the
  /// peer and the reason), at most 10 lines a second (then a count of the lines not shown).
  /// May call guard::stats(); must not call stop().
  std::function<void(const std::string&)> on_event;
};

/// Counters since start; a consistent snapshot.
struct guard_stats {
  std::uint64_t accepted = 0;          ///< connections accepted on the public socket
  std::uint64_t authenticated = 0;     ///< connections that finished TLS (if any) and BASP handshakes
  std::uint64_t refused_full = 0;      ///< closed at once: max_connections reached, none to evict
  std::uint64_t evicted = 0;           ///< closed to make room: oldest still-handshaking connections
  std::uint64_t handshake_timeouts = 0;
  std::uint64_t message_timeouts = 0;
  std::uint64_t bad_frames = 0;        ///< oversized, unknown, out-of-order or malformed BASP
  std::uint64_t tls_failures = 0;      ///< TLS handshakes that failed (no or wrong certificate, not TLS)
  std::uint64_t closed = 0;            ///< all connections closed, for whatever reason
  std::size_t open = 0;                ///< connections open now
  std::size_t handshaking = 0;         ///< of which still handshaking
  std::size_t budget_used = 0;         ///< in-flight bytes reserved now
  std::size_t budget_waiting = 0;      ///< connections waiting for budget now
  std::uint64_t bytes_to_node = 0;     ///< relayed peer -> CAF
  std::uint64_t bytes_to_peers = 0;    ///< relayed CAF -> peer
};

/// Throws std::invalid_argument naming the first inconsistent option.
void check_guard_options(const guard_options& options);

} // namespace flotilla::net
