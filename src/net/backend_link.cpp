#include "net/backend_link.hpp"

#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/scribe_impl.hpp>
#include <caf/all.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>

namespace flotilla::net {

namespace {

// CAF asks a scribe for its peer's port with getpeername and aborts (CAF_CRITICAL "invalid
// protocol family") on an AF_UNIX socket; this scribe reports the guard's peer instead.
class peer_scribe final : public caf::io::network::scribe_impl {
public:
  peer_scribe(caf::io::network::default_multiplexer& mx, int fd, std::string addr, std::uint16_t port)
      : scribe_impl(mx, fd), addr_(std::move(addr)), port_(port) {}

  std::string addr() const override { return addr_; }
  std::uint16_t port() const override { return port_; }

private:
  std::string addr_;
  std::uint16_t port_;
};

} // namespace

caf::actor basp_broker_of(caf::actor_system& sys) {
  if (!sys.has_middleman())
    throw std::runtime_error("guard: the actor system has no middleman (load caf::io::middleman in its config)");
  return sys.middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"));
}

int open_backend(caf::actor_system& sys, const caf::actor& basp, const caf::strong_actor_ptr& published,
                 std::uint16_t port, const std::string& peer_addr, std::uint16_t peer_port) {
  auto* mx = dynamic_cast<caf::io::network::default_multiplexer*>(&sys.middleman().backend());
  if (mx == nullptr)
    throw std::runtime_error("guard: CAF's network backend is not the default multiplexer");
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::runtime_error(std::string("guard: socketpair failed: ") + std::strerror(errno));
  caf::io::scribe_ptr scribe = caf::make_counted<peer_scribe>(*mx, sv[1], peer_addr, peer_port);
  caf::anon_send(basp, caf::publish_atom_v, std::move(scribe), port, published, std::set<std::string>{});
  return sv[0];
}

} // namespace flotilla::net
