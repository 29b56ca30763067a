#include "net/guard.hpp"

#include <caf/all.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/automatic_connections.hpp"
#include "net/backend_link.hpp"
#include "net/in_flight_budget.hpp"
#include "net/listen_socket.hpp"
#include "net/relay.hpp"
#include "net/tls_context.hpp"

namespace flotilla::net {

namespace {

constexpr std::uint64_t listener_key = 0; // relay ids start at 1; epoll data = id << 1 | side
constexpr std::uint64_t wake_key = 1;
constexpr auto tick = std::chrono::milliseconds(50); // deadline resolution
constexpr std::size_t pump_quota = 4u << 20;         // bytes per turn before others get theirs

const char* cause_text(close_cause c) {
  switch (c) {
    case close_cause::handshake_timeout:
      return "handshake timeout";
    case close_cause::message_timeout:
      return "message timeout";
    case close_cause::bad_frame:
      return "refused BASP";
    case close_cause::tls_failed:
      return "TLS refused";
    case close_cause::evicted:
      return "evicted for a newer connection";
    default:
      return "closed";
  }
}

} // namespace

struct guard::impl final : relay_host {
  caf::actor_system& sys;
  caf::actor basp;
  caf::strong_actor_ptr published;
  guard_options opts;
  ssl_ctx_ptr tls_ctx;
  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  std::uint16_t port = 0;
  std::thread thread;
  bool stopped = false;
  bool listener_resting = false; ///< taken out of epoll for a tick after running out of descriptors

  // Owned by the guard thread.
  std::unordered_map<std::uint64_t, std::unique_ptr<relay>> relays;
  std::uint64_t next_id = 1;
  in_flight_budget budget;
  std::vector<std::uint64_t> granted_ids;
  std::vector<std::uint64_t> ready;

  mutable std::mutex stats_mutex;
  guard_stats totals; // counters; gauges refreshed each loop turn

  impl(caf::actor_system& s, const guard_options& o) : sys(s), opts(o), budget(o.in_flight_budget) {}

  ~impl() {
    for (int fd : {listen_fd, epoll_fd, wake_fd})
      if (fd >= 0)
        ::close(fd);
  }

  // relay_host
  bool reserve(std::uint64_t id, std::size_t bytes) override { return budget.reserve_or_wait(id, bytes); }
  void release(std::size_t bytes) override {
    auto g = budget.release(bytes);
    granted_ids.insert(granted_ids.end(), g.begin(), g.end());
  }
  void cancel(std::uint64_t id) override {
    auto g = budget.cancel(id);
    granted_ids.insert(granted_ids.end(), g.begin(), g.end());
  }
  int open_backend(const std::string& addr, std::uint16_t peer_port) override {
    return net::open_backend(sys, basp, published, port, addr, peer_port);
  }

  // Events go out at most events_per_second a second, so a flood cannot flood the log too;
  // the rest are counted and summed up in the next line that goes out.
  static constexpr int events_per_second = 10;
  guard_clock::time_point event_window{};
  int events_in_window = 0;
  std::uint64_t events_suppressed = 0;
  std::vector<std::string> pending_events;

  void event(const std::string& text) {
    if (opts.on_event)
      pending_events.push_back(text);
  }

  // Called without stats_mutex held: on_event may ask for stats().
  void flush_events(guard_clock::time_point now) {
    if (now - event_window >= std::chrono::seconds(1)) {
      event_window = now;
      events_in_window = 0;
    }
    for (auto& text : pending_events) {
      if (events_in_window >= events_per_second) {
        ++events_suppressed;
        continue;
      }
      ++events_in_window;
      if (events_suppressed > 0) {
        opts.on_event("guard: " + std::to_string(events_suppressed) + " more events not shown (see guard::stats)");
        events_suppressed = 0;
      }
      opts.on_event(text);
    }
    pending_events.clear();
  }

  bool evict_oldest_handshaking() {
    relay* oldest = nullptr;
    for (auto& [id, r] : relays)
      if (!r->closed() && !r->authenticated() && (!oldest || r->accepted_at() < oldest->accepted_at()))
        oldest = r.get();
    if (oldest == nullptr)
      return false;
    oldest->close(close_cause::evicted);
    return true;
  }

  void count(std::uint64_t guard_stats::*field) {
    std::lock_guard<std::mutex> lock{stats_mutex};
    ++(totals.*field);
  }

  std::size_t live() const {
    std::size_t n = 0;
    for (auto& [id, r] : relays)
      n += !r->closed();
    return n;
  }

  std::size_t handshaking() const {
    std::size_t n = 0;
    for (auto& [id, r] : relays)
      n += !r->closed() && !r->authenticated();
    return n;
  }

  void accept_all(guard_clock::time_point now) {
    for (;;) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED)
          continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // The pending connection stays queued and the level-triggered listener would report
          // it at once again: rest the listener for a tick instead of spinning.
          event("guard: cannot accept: " + std::string(std::strerror(errno)) +
                " (raise the open-file limit, ulimit -n, or lower max_connections)");
          ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
          listener_resting = true;
        }
        return;
      }
      std::uint16_t peer_port = 0;
      auto addr = address_text(ss, peer_port);
      count(&guard_stats::accepted);
      // Unauthenticated peers yield to newcomers: an idle flood cannot lock real peers out.
      if (live() >= opts.max_connections && !evict_oldest_handshaking()) {
        ::close(fd);
        count(&guard_stats::refused_full);
        continue;
      }
      if (handshaking() >= opts.max_pending_handshakes)
        evict_oldest_handshaking();
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
      SSL* ssl = nullptr;
      if (tls_ctx) {
        ssl = SSL_new(tls_ctx.get());
        if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
          SSL_free(ssl);
          ::close(fd);
          continue;
        }
        SSL_set_accept_state(ssl);
      }
      auto id = next_id++;
      auto r = std::make_unique<relay>(id, epoll_fd, fd, ssl, addr, peer_port, opts, *this, now);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.u64 = id << 1;
      ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
      relays.emplace(id, std::move(r));
      ready.push_back(id);
    }
  }

  void pump(std::uint64_t id, guard_clock::time_point now) {
    auto i = relays.find(id);
    if (i == relays.end() || i->second->closed())
      return;
    bool was = i->second->authenticated();
    if (i->second->pump(now, pump_quota))
      ready.push_back(id);
    if (!was && i->second->authenticated())
      count(&guard_stats::authenticated);
  }

  // Removes closed relays, counting why they closed; refreshes the gauges.
  void sweep() {
    std::lock_guard<std::mutex> lock{stats_mutex};
    std::size_t open = 0, handshaking = 0;
    for (auto i = relays.begin(); i != relays.end();) {
      auto& r = *i->second;
      if (!r.closed()) {
        ++open;
        handshaking += !r.authenticated();
        ++i;
        continue;
      }
      ++totals.closed;
      switch (r.cause()) {
        case close_cause::handshake_timeout: ++totals.handshake_timeouts; break;
        case close_cause::message_timeout: ++totals.message_timeouts; break;
        case close_cause::bad_frame: ++totals.bad_frames; break;
        case close_cause::tls_failed: ++totals.tls_failures; break;
        case close_cause::evicted: ++totals.evicted; break;
        default: break;
      }
      totals.bytes_to_node += r.bytes_to_node();
      totals.bytes_to_peers += r.bytes_to_peer();
      if (r.cause() != close_cause::peer_closed && r.cause() != close_cause::node_closed &&
          r.cause() != close_cause::stopped)
        event("guard: closed " + r.peer() + ": " + cause_text(r.cause()) + (r.detail().empty() ? "" : " (" + r.detail() + ")"));
      i = relays.erase(i);
    }
    totals.open = open;
    totals.handshaking = handshaking;
    totals.budget_used = budget.used();
    totals.budget_waiting = budget.waiting();
  }

  void run() {
    pthread_setname_np(pthread_self(), "flotilla-guard"); // visible in top -H and /proc
    // OpenSSL writes with write(2): a peer that vanished must not kill the process with SIGPIPE.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    std::vector<epoll_event> events(128);
    auto next_tick = guard_clock::now();
    for (;;) {
      int timeout = ready.empty() && granted_ids.empty() ? static_cast<int>(tick.count()) : 0;
      int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), timeout);
      auto now = guard_clock::now();
      for (int k = 0; k < n; ++k) {
        auto key = events[k].data.u64;
        if (key == wake_key) {
          relays.clear();
          sweep();
          flush_events(now);
          return;
        }
        if (key == listener_key)
          accept_all(now);
        else
          pump(key >> 1, now);
      }
      // Grants and quota-limited relays, until nothing is left to do without new events.
      for (int rounds = 0; (!granted_ids.empty() || !ready.empty()) && rounds < 64; ++rounds) {
        auto grants = std::move(granted_ids);
        granted_ids.clear();
        for (auto id : grants)
          if (auto i = relays.find(id); i != relays.end()) {
            i->second->granted(now);
            ready.push_back(id);
          }
        auto turn = std::move(ready);
        ready.clear();
        for (auto id : turn)
          pump(id, now);
      }
      if (now >= next_tick) {
        for (auto& [id, r] : relays)
          r->expire(now);
        next_tick = now + tick;
        if (listener_resting) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u64 = listener_key;
          ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
          listener_resting = false;
        }
      }
      sweep();
      flush_events(now);
    }
  }
};

guard::guard(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

guard::~guard() {
  stop();
}

std::unique_ptr<guard> guard::start(caf::actor_system& sys, caf::actor published, const guard_options& options) {
  check_guard_options(options);
  if (!published)
    throw std::invalid_argument("guard: nothing to publish (the actor handle is invalid)");
  auto p = std::make_unique<impl>(sys, options);
  bool tls = !options.cert.empty();
  if (tls)
    p->tls_ctx = make_server_tls_context(options.cert, options.key, options.ca);
  p->basp = basp_broker_of(sys);
  p->published = caf::actor_cast<caf::strong_actor_ptr>(published);
  p->listen_fd = listen_on(options.bind, options.port, p->port);
  bool automatic = caf::get_or(sys.config(), "middleman.enable-automatic-connections", false);
  if (automatic && tls)
    throw std::invalid_argument("guard: middleman.enable-automatic-connections makes CAF open plain-TCP node-to-node "
                                "links that bypass TLS; turn it off on TLS nodes");
  if (automatic && options.adopt_automatic_connections)
    adopt_automatic_connections(sys, p->basp, p->port, options.bind);
  p->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  p->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (p->epoll_fd < 0 || p->wake_fd < 0)
    throw std::runtime_error("guard: cannot create epoll or eventfd: " + std::string(std::strerror(errno)));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = listener_key;
  ::epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, p->listen_fd, &ev);
  ev.data.u64 = wake_key;
  ::epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, p->wake_fd, &ev);
  auto* raw = p.get();
  p->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<guard>(new guard(std::move(p)));
}

std::uint16_t guard::port() const {
  return impl_->port;
}

bool guard::tls() const {
  return impl_->tls_ctx != nullptr;
}

guard_stats guard::stats() const {
  std::lock_guard<std::mutex> lock{impl_->stats_mutex};
  return impl_->totals;
}

void guard::stop() {
  if (!impl_ || impl_->stopped)
    return;
  impl_->stopped = true;
  std::uint64_t one = 1;
  if (::write(impl_->wake_fd, &one, sizeof(one)) != sizeof(one))
    std::terminate(); // an eventfd write cannot fail here; not stopping would hang the caller
  impl_->thread.join();
  ::close(impl_->listen_fd);
  impl_->listen_fd = -1;
  impl_->published = nullptr;
  impl_->basp = nullptr;
}

} // namespace flotilla::net
