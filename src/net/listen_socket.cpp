#include "net/listen_socket.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace flotilla::net {

std::string address_text(const sockaddr_storage& ss, std::uint16_t& port) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &a.sin_addr, buf, sizeof(buf));
    port = ntohs(a.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    inet_ntop(AF_INET6, &a.sin6_addr, buf, sizeof(buf));
    port = ntohs(a.sin6_port);
  }
  return buf;
}

int listen_on(const std::string& bind, std::uint16_t port, std::uint16_t& actual) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  auto where = bind + ":" + std::to_string(port);
  if (int rc = getaddrinfo(bind.empty() ? nullptr : bind.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0)
    throw std::runtime_error("guard: cannot listen on " + where + ": " + gai_strerror(rc) + " (is the bind address right?)");
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> hold{res, freeaddrinfo};
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("guard: cannot create a socket: " + std::string(std::strerror(errno)));
  int one = 1, zero = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (res->ai_family == AF_INET6)
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    auto err = std::string(std::strerror(errno));
    ::close(fd);
    throw std::runtime_error("guard: cannot listen on " + where + ": " + err + " (port in use? try another port)");
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  address_text(ss, actual);
  return fd;
}

} // namespace flotilla::net
