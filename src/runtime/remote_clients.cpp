#include "runtime/remote_clients.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <thread>

#include "actors/errors.hpp"
#include "runtime/local_run.hpp"

namespace flotilla::runtime {

std::vector<std::vector<std::uint32_t>> place_clients(std::uint32_t clients, std::size_t nodes,
                                                      const std::string& placement) {
  std::vector<std::vector<std::uint32_t>> ids(nodes);
  for (std::uint32_t id = 0; id < clients; ++id)
    ids[placement == "block" ? id * nodes / clients : id % nodes].push_back(id);
  return ids;
}

caf::actor connect_node(caf::actor_system& sys, const std::string& address, const config::runtime_options& rt) {
  auto colon = address.rfind(':');
  auto host = address.substr(0, colon);
  auto port = static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)));
  std::string last;
  for (std::uint32_t attempt = 1; attempt <= rt.connect_attempts; ++attempt) {
    auto hdl = rt.tls.enabled() ? caf::openssl::remote_actor(sys, host, port) : sys.middleman().remote_actor(host, port);
    if (hdl)
      return *hdl;
    last = sys.render(hdl.error());
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(2000, 100 << std::min(attempt, 5u))));
  }
  throw std::runtime_error("cannot reach node " + address + " after " + std::to_string(rt.connect_attempts) +
                           " attempts (" + last + "); is `flotilla node --port " + std::to_string(port) +
                           "` running there, reachable through the firewall, and with matching TLS settings?");
}

std::vector<actors::peer> spawn_remote_clients(caf::actor_system& sys, caf::scoped_actor& self,
                                               const config::settings& s, const std::string& config_json,
                                               const std::string& fingerprint, const std::string& registrar_key,
                                               std::vector<caf::actor>& managers) {
  auto n = s.runtime.nodes.size();
  // With runtime.listen, late clients come with the nodes that join; the others are placed here.
  auto placed = s.runtime.listen > 0 ? s.experiment.clients : s.experiment.total_clients();
  auto ids = place_clients(placed, n, s.runtime.placement);
  std::vector<actors::peer> clients(s.experiment.total_clients());
  for (std::size_t i = 0; i < n; ++i) {
    auto mgr = connect_node(sys, s.runtime.nodes[i], s.runtime);
    managers.push_back(mgr);
    self->monitor(mgr); // teardown skips nodes that went down
    std::string error;
    auto cause = run_error::kind::other;
    self->request(mgr, std::chrono::minutes(5), actors::setup_atom::value, config_json, ids[i], fingerprint,
                  registrar_key)
      .receive(
        [&](std::vector<caf::actor>& hs) {
          for (std::size_t j = 0; j < hs.size() && j < ids[i].size(); ++j)
            clients[ids[i][j]] = {ids[i][j], hs[j]};
        },
        [&](caf::error& err) {
          error = actors::text_of(sys, err);
          // The node's reason decides the exit code: its data or model file differs, its config.
          switch (actors::code_of(err).value_or(actors::errc::internal_error)) {
            case actors::errc::model_error: cause = run_error::kind::model; break;
            case actors::errc::data_error: cause = run_error::kind::data; break;
            case actors::errc::config_error: cause = run_error::kind::config; break;
            default: break;
          }
        });
    if (!error.empty())
      throw run_error(cause, "node " + s.runtime.nodes[i] + " refused the run: " + error);
  }
  // Each node opens a direct link to the nodes after it: members then reach a cluster server on
  // another node directly (plain or TLS alike), not through the coordinator's node.
  for (std::size_t i = 0; s.runtime.link_nodes && i + 1 < n; ++i) {
    std::vector<std::string> peers(s.runtime.nodes.begin() + static_cast<long>(i) + 1, s.runtime.nodes.end());
    std::string error;
    self->request(managers[i], std::chrono::minutes(2), actors::link_atom::value, peers)
      .receive([](std::uint32_t) {}, [&](caf::error& err) { error = actors::text_of(sys, err); });
    if (!error.empty())
      throw std::runtime_error("node " + s.runtime.nodes[i] + " could not link to its peers: " + error);
  }
  return clients;
}

} // namespace flotilla::runtime
