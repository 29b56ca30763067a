#include "net/relay.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace flotilla::net {

namespace {

constexpr std::uint64_t node_side = 1; // epoll data: id << 1 | side

// A header and the payload bytes the payload check may hold back must fit in the buffer, and
// held bytes at the buffer's end must be few enough for relay_buffer to move them to its front.
constexpr std::size_t min_buffer = 2 * basp_header_size + payload_limits{}.window;
static_assert(payload_limits{}.window <= relay_buffer::compact_limit, "held payload bytes must be compactable");

guard_clock::duration seconds(double s) {
  return std::chrono::duration_cast<guard_clock::duration>(std::chrono::duration<double>(s));
}

bool would_block(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

} // namespace

relay::relay(std::uint64_t id, int epoll_fd, int peer_fd, SSL* ssl, std::string peer_addr, std::uint16_t peer_port,
             const guard_options& options, relay_host& host, guard_clock::time_point now)
    : id_(id),
      epoll_fd_(epoll_fd),
      peer_fd_(peer_fd),
      ssl_(ssl),
      peer_addr_(std::move(peer_addr)),
      peer_port_(peer_port),
      peer_(peer_addr_ + ":" + std::to_string(peer_port_)),
      options_(options),
      host_(host),
      filter_(frame_limits{options.max_message_bytes, options.max_handshake_bytes}, &options.message_types),
      to_node_(std::max<std::size_t>(options.handshake_buffer_bytes, min_buffer)),
      to_peer_(std::max<std::size_t>(options.handshake_buffer_bytes, min_buffer)),
      tls_done_(ssl == nullptr),
      accepted_at_(now),
      handshake_deadline_(now + seconds(options.handshake_timeout_s)) {}

relay::~relay() {
  close(close_cause::stopped);
}

void relay::close(close_cause cause, const std::string& detail) {
  if (cause_ != close_cause::none)
    return;
  cause_ = cause;
  detail_ = detail;
  if (waiting_)
    host_.cancel(id_);
  waiting_ = false;
  std::size_t held = 0;
  for (auto& r : reservations_)
    held += r.bytes;
  reservations_.clear();
  if (held > 0)
    host_.release(held);
  if (ssl_ != nullptr)
    SSL_free(ssl_); // no close_notify: the peer is either gone or being thrown out
  ssl_ = nullptr;
  // Closing removes the descriptors from the epoll set; CAF sees end of stream on its end.
  ::close(peer_fd_);
  if (node_fd_ >= 0)
    ::close(node_fd_);
  peer_fd_ = node_fd_ = -1;
}

std::optional<guard_clock::time_point> relay::next_deadline() const {
  if (handshake_deadline_ && message_deadline_)
    return std::min(*handshake_deadline_, *message_deadline_);
  return handshake_deadline_ ? handshake_deadline_ : message_deadline_;
}

void relay::expire(guard_clock::time_point now) {
  if (closed())
    return;
  if (handshake_deadline_ && now >= *handshake_deadline_) {
    char limit[32];
    std::snprintf(limit, sizeof(limit), "%g", options_.handshake_timeout_s);
    close(close_cause::handshake_timeout,
          std::string(tls_done_ ? "no BASP client handshake" : "no TLS handshake") + " within " + limit + " s");
  } else if (message_deadline_ && now >= *message_deadline_) {
    close(close_cause::message_timeout, "a message arrived too slowly");
  }
}

relay::io relay::peer_read(std::size_t& n) {
  auto space = to_node_.space();
  if (ssl_ == nullptr) {
    auto k = ::recv(peer_fd_, to_node_.tail_ptr(), space, 0);
    if (k > 0) {
      n = static_cast<std::size_t>(k);
      return io::moved;
    }
    if (k == 0)
      return io::eof;
    return would_block(errno) ? io::blocked : io::failed;
  }
  ERR_clear_error();
  if (SSL_read_ex(ssl_, to_node_.tail_ptr(), space, &n) == 1)
    return io::moved;
  switch (SSL_get_error(ssl_, 0)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return io::blocked;
    case SSL_ERROR_ZERO_RETURN:
      return io::eof;
    default:
      return io::failed;
  }
}

relay::io relay::peer_write(std::size_t& n) {
  if (ssl_ == nullptr) {
    auto k = ::send(peer_fd_, to_peer_.head_ptr(), to_peer_.size(), MSG_NOSIGNAL);
    if (k >= 0) {
      n = static_cast<std::size_t>(k);
      return io::moved;
    }
    return would_block(errno) ? io::blocked : io::failed;
  }
  // With partial writes OpenSSL returns after each 16 KiB record: write records until the
  // socket is full rather than going round the whole pump once per record.
  n = 0;
  while (n < to_peer_.size()) {
    ERR_clear_error();
    std::size_t k = 0;
    if (SSL_write_ex(ssl_, to_peer_.head_ptr() + n, to_peer_.size() - n, &k) == 1) {
      n += k;
      continue;
    }
    auto e = SSL_get_error(ssl_, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return n > 0 ? io::moved : io::blocked;
    return io::failed;
  }
  return io::moved;
}

bool relay::tls_handshake() {
  ERR_clear_error();
  auto r = SSL_do_handshake(ssl_);
  if (r == 1) {
    tls_done_ = true;
    return true;
  }
  auto e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    return false;
  char reason[256] = "connection closed";
  if (auto code = ERR_peek_error())
    ERR_error_string_n(code, reason, sizeof(reason));
  ERR_clear_error();
  close(close_cause::tls_failed, std::string("TLS handshake failed: ") + reason);
  return false;
}

void relay::admit(guard_clock::time_point now) {
  filter_.grant();
  waiting_ = false;
  auto bytes = filter_.pending_payload();
  reservations_.push_back({to_node_total_ + approved_ + basp_header_size + bytes, bytes});
  // A slow peer may hold its reservation only so long: max(message_timeout, size / min rate).
  auto allowed = std::max(options_.message_timeout_s,
                          static_cast<double>(bytes) / static_cast<double>(std::max<std::size_t>(1, options_.min_rate_bytes_per_s)));
  message_deadline_ = now + seconds(allowed);
  deadline_message_ = filter_.messages();
}

void relay::granted(guard_clock::time_point now) {
  if (!closed() && waiting_)
    admit(now);
}

bool relay::scan(guard_clock::time_point now) {
  bool progress = false;
  for (;;) {
    auto k = filter_.offer(to_node_.head_ptr() + approved_, to_node_.size() - approved_);
    approved_ += k;
    progress |= k > 0;
    auto state = filter_.current();
    if (state == basp_inbound_filter::state::refused) {
      auto why = std::string(to_string(filter_.verdict()));
      if (!filter_.refusal().empty())
        why += ": " + filter_.refusal();
      close(close_cause::bad_frame, why);
      return true;
    }
    if (state != basp_inbound_filter::state::needs_budget || waiting_)
      break;
    if (node_fd_ < 0) {
      // The first acceptable header shows the peer speaks BASP: only now does CAF learn of it.
      try {
        node_fd_ = host_.open_backend(peer_addr_, peer_port_);
      } catch (const std::exception& e) {
        close(close_cause::io_error, e.what());
        return true;
      }
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.u64 = id_ << 1 | node_side;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, node_fd_, &ev);
    }
    waiting_ = true;
    if (!host_.reserve(id_, filter_.pending_payload()))
      break; // queued: granted() continues
    admit(now);
    progress = true;
  }
  if (!authenticated_ && filter_.handshake_done()) {
    authenticated_ = true;
    handshake_deadline_.reset();
    to_node_.grow(options_.relay_buffer_bytes);
    to_peer_.grow(options_.relay_buffer_bytes);
  }
  switch (filter_.current()) {
    case basp_inbound_filter::state::at_header:
      // Bytes of a header that has not completed yet: the header has message_timeout to finish.
      if (approved_ == to_node_.size()) {
        message_deadline_.reset();
      } else if (!message_deadline_ || deadline_message_ != filter_.messages()) {
        message_deadline_ = now + seconds(options_.message_timeout_s);
        deadline_message_ = filter_.messages();
      }
      break;
    case basp_inbound_filter::state::needs_budget:
      message_deadline_.reset(); // waiting is the guard's doing, not the peer's
      break;
    default:
      break; // admit() set the deadline of the message now passing
  }
  return progress;
}

void relay::release_written() {
  std::size_t done = 0;
  while (!reservations_.empty() && reservations_.front().end <= to_node_total_) {
    done += reservations_.front().bytes;
    reservations_.pop_front();
  }
  if (done > 0)
    host_.release(done);
}

bool relay::pump(guard_clock::time_point now, std::size_t quota) {
  if (closed())
    return false;
  if (!tls_done_ && !tls_handshake())
    return false;
  std::size_t moved = 0;
  for (;;) {
    bool progress = false;
    // Peer -> guard: stop reading when refused, ended, or the buffer is full (backpressure).
    if (!peer_eof_ && to_node_.space() > 0) {
      std::size_t n = 0;
      switch (peer_read(n)) {
        case io::moved:
          to_node_.produced(n);
          moved += n;
          progress = true;
          break;
        case io::eof:
          peer_eof_ = true;
          break;
        case io::failed:
          close(close_cause::io_error, std::string("read from peer failed: ") + std::strerror(errno));
          return false;
        case io::blocked:
          break;
      }
    }
    progress |= scan(now);
    if (closed())
      return false;
    // Guard -> CAF: only bytes the filter approved.
    if (node_fd_ >= 0 && approved_ > 0) {
      auto k = ::send(node_fd_, to_node_.head_ptr(), approved_, MSG_NOSIGNAL);
      if (k > 0) {
        auto n = static_cast<std::size_t>(k);
        to_node_.consumed(n);
        approved_ -= n;
        to_node_total_ += n;
        release_written();
        progress = true;
      } else if (k < 0 && !would_block(errno)) {
        close(close_cause::node_closed, "the node closed the connection");
        return false;
      }
    }
    // CAF -> guard.
    if (node_fd_ >= 0 && !node_eof_ && to_peer_.space() > 0) {
      auto k = ::recv(node_fd_, to_peer_.tail_ptr(), to_peer_.space(), 0);
      if (k > 0) {
        to_peer_.produced(static_cast<std::size_t>(k));
        progress = true;
      } else if (k == 0 || !would_block(errno)) {
        node_eof_ = true;
      }
    }
    // Guard -> peer.
    if (!to_peer_.empty()) {
      std::size_t n = 0;
      switch (peer_write(n)) {
        case io::moved:
          to_peer_.consumed(n);
          to_peer_total_ += n;
          moved += n;
          progress |= n > 0;
          break;
        case io::failed:
          close(close_cause::io_error, "write to peer failed");
          return false;
        default:
          break;
      }
    }
    if (node_eof_ && to_peer_.empty()) {
      close(close_cause::node_closed, "the node closed the connection");
      return false;
    }
    if (peer_eof_ && approved_ == 0) {
      close(close_cause::peer_closed);
      return false;
    }
    if (!progress)
      return false;
    if (moved >= quota)
      return true;
  }
}

} // namespace flotilla::net
