#include "wire_throughput.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/io/all.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "actors/protocol.hpp"
#include "runtime/actor_system_setup.hpp"

namespace flotilla::bench {

namespace {

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

void send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    auto k = ::send(fd, p, n, 0);
    if (k <= 0)
      throw std::runtime_error("tcp echo: send failed");
    p += k;
    n -= static_cast<std::size_t>(k);
  }
}

void recv_all(int fd, char* p, std::size_t n) {
  while (n > 0) {
    auto k = ::recv(fd, p, n, 0);
    if (k <= 0)
      throw std::runtime_error("tcp echo: recv failed");
    p += k;
    n -= static_cast<std::size_t>(k);
  }
}

} // namespace

double caf_echo_seconds(std::size_t bytes, int repetitions) {
  config::runtime_options rt;
  rt.heartbeat_s = 0;
  caf::actor_system_config cfg_a, cfg_b;
  runtime::configure_actor_system(cfg_a, rt);
  runtime::configure_actor_system(cfg_b, rt);
  caf::actor_system a{cfg_a}, b{cfg_b};
  auto echo = b.spawn([]() -> caf::behavior {
    return {[](actors::fit_atom, std::uint32_t r, const actors::weight_blob& w) { return caf::make_message(actors::fit_atom::value, r, w); }};
  });
  auto port = b.middleman().publish(echo, 0, "127.0.0.1");
  auto remote = a.middleman().remote_actor("127.0.0.1", *port);
  if (!port || !remote)
    throw std::runtime_error("caf echo: cannot connect over loopback");
  actors::weight_blob w{1, std::vector<float>(bytes / sizeof(float), 1.0f)};
  std::vector<double> times;
  {
    caf::scoped_actor self{a};
    for (int i = 0; i < repetitions + 2; ++i) {
      auto start = std::chrono::steady_clock::now();
      self->request(*remote, std::chrono::seconds(30), actors::fit_atom::value, std::uint32_t{1}, w)
        .receive([](actors::fit_atom, std::uint32_t, const actors::weight_blob&) {},
                 [](caf::error&) { throw std::runtime_error("caf echo failed"); });
      if (i >= 2) // two warm-up round trips
        times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  return median(times);
}

double tcp_echo_seconds(std::size_t bytes, int repetitions) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("tcp echo: cannot listen on loopback");
  std::thread server([&] {
    int fd = ::accept(listener, nullptr, nullptr);
    std::vector<char> buf(bytes);
    for (int i = 0; i < repetitions + 2; ++i) {
      recv_all(fd, buf.data(), bytes);
      send_all(fd, buf.data(), bytes);
    }
    ::close(fd);
  });
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    throw std::runtime_error("tcp echo: cannot connect");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::vector<char> out(bytes, 1), in(bytes);
  std::vector<double> times;
  for (int i = 0; i < repetitions + 2; ++i) {
    auto start = std::chrono::steady_clock::now();
    send_all(fd, out.data(), bytes); // the server reads it all, then echoes it
    recv_all(fd, in.data(), bytes);
    if (i >= 2)
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  ::close(fd);
  server.join();
  ::close(listener);
  return median(times);
}

} // namespace flotilla::bench
