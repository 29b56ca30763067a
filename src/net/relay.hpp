#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "net/basp_frame.hpp"
#include "net/guard_options.hpp"
#include "net/relay_buffer.hpp"

typedef struct ssl_st SSL;

namespace flotilla::net {

using guard_clock = std::chrono::steady_clock;

/// What a relay needs from the guard that owns it.
class relay_host {
public:
  virtual ~relay_host() = default;
  /// Reserves in-flight bytes for relay `id`; false: queued, relay::granted() follows later.
  virtual bool reserve(std::uint64_t id, std::size_t bytes) = 0;
  /// Returns in-flight bytes.
  virtual void release(std::size_t bytes) = 0;
  /// Withdraws a queued reservation of relay `id`.
  virtual void cancel(std::uint64_t id) = 0;
  /// A fresh CAF connection for this peer (see open_backend); registered by the relay.
  virtual int open_backend(const std::string& peer_addr, std::uint16_t peer_port) = 0;
};

/// Why a relay ended.
enum class close_cause { none, peer_closed, node_closed, handshake_timeout, message_timeout, bad_frame,
                         tls_failed, io_error, evicted, stopped };

/// One peer connection and its CAF connection, joined by two buffers. Bytes from the peer
/// pass a basp_inbound_filter and the in-flight budget before CAF sees them; bytes from CAF
/// go to the peer as they are. With TLS the relay first completes a server handshake with
/// the peer. Driven by one thread (the guard's), edge-triggered: pump() does all I/O that is
/// possible without blocking.
class relay {
public:
  relay(std::uint64_t id, int epoll_fd, int peer_fd, SSL* ssl, std::string peer_addr, std::uint16_t peer_port,
        const guard_options& options, relay_host& host, guard_clock::time_point now);
  ~relay();
  relay(const relay&) = delete;
  relay& operator=(const relay&) = delete;

  /// Moves bytes until nothing more can move now or `quota` bytes moved; true if the quota
  /// stopped it (pump again soon, after other connections had their turn).
  bool pump(guard_clock::time_point now, std::size_t quota);
  /// The waiting header got its budget (after relay_host::reserve returned false).
  void granted(guard_clock::time_point now);
  /// Closes the relay if a deadline passed.
  void expire(guard_clock::time_point now);
  /// Closes both connections (idempotent).
  void close(close_cause cause, const std::string& detail = {});

  std::uint64_t id() const { return id_; }
  bool closed() const { return cause_ != close_cause::none; }
  close_cause cause() const { return cause_; }
  const std::string& detail() const { return detail_; }
  bool authenticated() const { return authenticated_; }
  guard_clock::time_point accepted_at() const { return accepted_at_; }
  const std::string& peer() const { return peer_; }
  std::optional<guard_clock::time_point> next_deadline() const;
  std::uint64_t bytes_to_node() const { return to_node_total_; }
  std::uint64_t bytes_to_peer() const { return to_peer_total_; }

private:
  enum class io { moved, blocked, eof, failed };
  io peer_read(std::size_t& n);
  io peer_write(std::size_t& n);
  bool tls_handshake();
  bool scan(guard_clock::time_point now);
  void admit(guard_clock::time_point now);
  void release_written();

  std::uint64_t id_;
  int epoll_fd_;
  int peer_fd_;
  int node_fd_ = -1;
  SSL* ssl_;
  std::string peer_addr_;
  std::uint16_t peer_port_;
  std::string peer_; ///< addr:port, for messages
  const guard_options& options_;
  relay_host& host_;
  basp_inbound_filter filter_;
  relay_buffer to_node_;  ///< peer -> CAF; the first `approved_` bytes passed the filter
  relay_buffer to_peer_;  ///< CAF -> peer
  std::size_t approved_ = 0;
  std::uint64_t to_node_total_ = 0;
  std::uint64_t to_peer_total_ = 0;
  struct reservation {
    std::uint64_t end; ///< to_node_total_ at which the message has gone to CAF entirely
    std::size_t bytes;
  };
  std::deque<reservation> reservations_;
  bool waiting_ = false;
  bool tls_done_;
  bool authenticated_ = false;
  bool peer_eof_ = false;
  bool node_eof_ = false;
  std::uint64_t deadline_message_ = 0; ///< filter_.messages() when message_deadline_ was set
  guard_clock::time_point accepted_at_;
  std::optional<guard_clock::time_point> handshake_deadline_;
  std::optional<guard_clock::time_point> message_deadline_;
  close_cause cause_ = close_cause::none;
  std::string detail_;
};

} // namespace flotilla::net
