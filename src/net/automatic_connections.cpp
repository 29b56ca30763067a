#include "net/automatic_connections.hpp"

#include <caf/all.hpp>
#include <caf/io/network/interfaces.hpp>

#include "net/backend_link.hpp"

#include <arpa/inet.h>

#include <stdexcept>

namespace flotilla::net {

namespace {

const std::string connectivity_key = "basp.default-connectivity-tcp";

caf::actor config_server(caf::actor_system& sys) {
  return caf::actor_cast<caf::actor>(sys.registry().get(caf::atom("ConfigServ")));
}

// The advertised (port, addresses), or an empty message.
caf::message advertised(caf::actor_system& sys, const caf::actor& basp) {
  auto cs = config_server(sys);
  if (!cs)
    return {};
  caf::message out;
  caf::scoped_actor self{sys};
  // The BASP broker opens its listener and advertises it when it starts; one answered
  // request proves that has happened (and its advertisement reached the config server first).
  self->request(basp, std::chrono::seconds(5), caf::get_atom_v, caf::node_id{})
    .receive([](const caf::node_id&, const std::string&, std::uint16_t) {},
             [&](caf::error& e) { throw std::runtime_error("guard: CAF's BASP broker did not answer: " + sys.render(e)); });
  self->request(cs, std::chrono::seconds(5), caf::get_atom_v, connectivity_key)
    .receive([&](const std::string&, caf::message& m) { out = std::move(m); },
             [&](caf::error& e) {
               throw std::runtime_error("guard: CAF's config server did not answer: " + sys.render(e));
             });
  return out;
}

} // namespace

std::uint16_t advertised_automatic_port(caf::actor_system& sys) {
  auto m = advertised(sys, basp_broker_of(sys));
  return m.match_elements<std::uint16_t, caf::io::network::address_listing>() ? m.get_as<std::uint16_t>(0) : 0;
}

std::uint16_t adopt_automatic_connections(caf::actor_system& sys, const caf::actor& basp, std::uint16_t guard_port,
                                          const std::string& bind) {
  caf::scoped_actor self{sys};
  auto m = advertised(sys, basp);
  if (!m.match_elements<std::uint16_t, caf::io::network::address_listing>())
    return 0;
  auto caf_port = m.get_as<std::uint16_t>(0);
  auto listing = m.get_as<caf::io::network::address_listing>(1);
  self->request(basp, std::chrono::seconds(5), caf::close_atom_v, caf_port)
    .receive([] {},
             [&](caf::error& e) {
               throw std::runtime_error("guard: cannot close CAF's automatic-connection port " + std::to_string(caf_port) +
                                        ": " + sys.render(e));
             });
  // A guard bound to one address is reachable only there; peers try the listed addresses in turn.
  in6_addr v6;
  in_addr v4;
  if (inet_pton(AF_INET, bind.c_str(), &v4) == 1 && v4.s_addr != htonl(INADDR_ANY))
    listing = {{caf::io::network::protocol::ipv4, {bind}}};
  else if (inet_pton(AF_INET6, bind.c_str(), &v6) == 1 && !IN6_IS_ADDR_UNSPECIFIED(&v6))
    listing = {{caf::io::network::protocol::ipv6, {bind}}};
  self->send(config_server(sys), caf::put_atom_v, connectivity_key, caf::make_message(guard_port, std::move(listing)));
  return caf_port;
}

} // namespace flotilla::net
