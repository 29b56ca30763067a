#pragma once
#include <caf/fwd.hpp>
#include <caf/actor.hpp>

#include <cstdint>
#include <memory>

#include "net/guard_options.hpp"

namespace flotilla::net {

/// A guard in front of CAF's BASP on a node: it owns the public listening socket and hands
/// each connection to CAF only through checks CAF 0.17 lacks. Peers that did not finish
/// their handshake (TLS, then BASP) within handshake_timeout are closed; BASP headers are
/// checked for size, operation and order before CAF sees them, and CAF's buffers for
/// incomplete messages stay within the in-flight budget. With cert/key/ca it terminates
/// mutual TLS itself (CAF clients keep using caf::openssl::remote_actor). CAF itself
/// listens nowhere: each checked connection reaches it over a private socket pair.
///
/// One thread does all the guard's I/O. Stop (or destroy) the guard before the actor system.
class guard {
public:
  /// Starts listening on options.bind:options.port and serving `published` there, as
  /// `middleman().publish` would. Throws std::runtime_error (tls_error for TLS files) with
  /// what was wrong and what to do.
  static std::unique_ptr<guard> start(caf::actor_system& sys, caf::actor published, const guard_options& options);

  /// The port the guard listens on (the actual one when options.port was 0).
  std::uint16_t port() const;
  /// True when the guard terminates TLS.
  bool tls() const;
  /// A snapshot of the counters.
  guard_stats stats() const;
  /// Closes the listening socket and every connection, and joins the guard's thread;
  /// idempotent. CAF sees its connections end as if the peers had left.
  void stop();
  ~guard();

  guard(const guard&) = delete;
  guard& operator=(const guard&) = delete;

  struct impl;

private:
  explicit guard(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace flotilla::net
