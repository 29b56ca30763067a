#include "actors/runtime.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <algorithm>
#include <thread>

#include "actors/client.hpp"
#include "actors/coordinator.hpp"
#include "actors/node_context.hpp"
#include "actors/protocol.hpp"
#include "actors/trainer_pool.hpp"
#include "model/model_file.hpp"
#include "model/trainer.hpp"

namespace flotilla::actors {

namespace {
std::uint32_t cores() {
  return std::max(1u, std::thread::hardware_concurrency());
}
} // namespace

bool is_loopback(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "::1" || host == "[::1]" || host == "localhost";
}

void configure_actor_system(caf::actor_system_config& cfg, const app::runtime_settings& rt, bool direct_links) {
  add_protocol_types(cfg);
  cfg.load<caf::io::middleman>();
  auto threads = rt.scheduler_threads > 0 ? rt.scheduler_threads : cores();
  cfg.set("scheduler.max-threads", static_cast<std::size_t>(threads));
  cfg.set("logger.console", caf::atom("none"));
  // Heartbeats detect hung nodes; the timeout must exceed the largest transfer (CAF notes §5).
  if (rt.heartbeat_s > 0) {
    cfg.set("middleman.heartbeat-interval", caf::timespan{static_cast<std::int64_t>(rt.heartbeat_s * 1e9)});
    cfg.set("middleman.connection-timeout", caf::timespan{static_cast<std::int64_t>(rt.connection_timeout_s * 1e9)});
  }
  if (rt.tls.enabled()) {
    cfg.load<caf::openssl::manager>();
    cfg.set("openssl.certificate", rt.tls.cert);
    cfg.set("openssl.key", rt.tls.key);
    cfg.set("openssl.cafile", rt.tls.ca);
  } else if (direct_links) {
    // Members reach their cluster server directly, not relayed through the coordinator. CAF
    // 0.17 opens these links in plain TCP to the peer's interface addresses (on an extra
    // port), so they stay off under TLS and on loopback-only deployments, where messages
    // between nodes are relayed by the coordinator's node instead.
    cfg.set("middleman.enable-automatic-connections", true);
  }
}

namespace {

// remote_actor with retries: 0.17.6 drops an outgoing connection with a spurious
// connection_timeout when the peer's handshake misses the first heartbeat tick (notes §5).
caf::actor connect_node(caf::actor_system& sys, const std::string& address, const app::runtime_settings& rt) {
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

// Connects every node, asks each to host its share of the clients, and returns the clients
// in id order plus the node managers (for teardown).
std::vector<peer> spawn_remote_clients(caf::actor_system& sys, caf::scoped_actor& self, const app::settings& s,
                                       const std::string& config_json, const std::string& fingerprint,
                                       std::vector<caf::actor>& managers) {
  auto n = s.runtime.nodes.size();
  std::vector<std::vector<std::uint32_t>> ids(n);
  for (std::uint32_t id = 0; id < s.clients; ++id)
    ids[s.runtime.placement == "block" ? id * n / s.clients : id % n].push_back(id);
  std::vector<peer> clients(s.clients);
  for (std::size_t i = 0; i < n; ++i) {
    auto mgr = connect_node(sys, s.runtime.nodes[i], s.runtime);
    managers.push_back(mgr);
    std::string error;
    self->request(mgr, std::chrono::minutes(5), setup_atom::value, config_json, ids[i], fingerprint)
      .receive(
        [&](std::vector<caf::actor>& hs) {
          for (std::size_t j = 0; j < hs.size() && j < ids[i].size(); ++j)
            clients[ids[i][j]] = {ids[i][j], hs[j]};
        },
        [&](caf::error& err) { error = sys.render(err); });
    if (!error.empty())
      throw std::runtime_error("node " + s.runtime.nodes[i] + " refused the run: " + error);
  }
  return clients;
}

} // namespace

fl::run_report run_simulation(const app::settings& s, std::shared_ptr<const data::dataset> data,
                              std::shared_ptr<fl::run_observer> observer,
                              const client_override& override_client, const std::string& config_json) {
  if (!s.runtime.nodes.empty() && config_json.empty())
    throw std::invalid_argument("run_simulation: a run on nodes needs the resolved config");
  auto fingerprint = data->fingerprint;
  auto ctx = make_node_context(std::move(data), s.clients, s.partition, s.model, s.train, s.seed);
  for (const auto& p : s.profiles)
    for (auto id : p.clients)
      ctx->profiles[id] = client_profile{true, p.cpu, p.mem};

  coordinator_config cc;
  cc.seed = s.seed;
  cc.initial_rounds = s.rounds.initial;
  cc.cluster_rounds = s.rounds.cluster;
  cc.fraction_fit = s.rounds.fraction_fit;
  cc.quorum = s.rounds.quorum;
  cc.timeout_s = s.rounds.timeout_s;
  cc.k = s.clustering.k;
  cc.restarts = s.clustering.restarts;
  cc.max_iterations = s.clustering.max_iterations;
  cc.sketch_dim = s.clustering.sketch_dim;
  cc.epochs = s.train.epochs;
  cc.model = ctx->model;
  cc.initial_model = s.model_init.empty() ? model::initial_weights(s.model, s.seed)
                                          : model::load_model(s.model, s.model_init);

  auto report = std::make_shared<fl::run_report>();
  caf::actor_system_config cfg;
  bool routable = std::any_of(s.runtime.nodes.begin(), s.runtime.nodes.end(), [](const std::string& n) {
    return !is_loopback(n.substr(0, n.rfind(':')));
  });
  configure_actor_system(cfg, s.runtime, routable);
  std::string failure;
  {
    caf::actor_system sys{cfg};
    // This process's pool: every client's training in a local run, the test set on nodes.
    auto pool = spawn_trainer_pool(sys, ctx, s.runtime.trainers > 0 ? s.runtime.trainers : cores());
    // Held for the whole run: nodes monitor it and drop the run's clients if it goes away.
    caf::scoped_actor self{sys};
    std::vector<caf::actor> managers;
    std::vector<peer> clients;
    try {
      if (!s.runtime.nodes.empty()) {
        clients = spawn_remote_clients(sys, self, s, config_json, fingerprint, managers);
      } else {
        for (std::uint32_t id = 0; id < s.clients; ++id) {
          caf::actor hdl = override_client ? override_client(sys, id) : caf::actor{};
          if (!hdl)
            hdl = sys.spawn(client, id, std::shared_ptr<const node_context>(ctx), pool);
          clients.push_back({id, hdl});
        }
      }
    } catch (...) {
      for (auto& m : managers)
        self->send(m, teardown_atom::value);
      caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
      throw;
    }
    for (const auto& c : clients)
      report->client_actors.push_back(c.handle ? c.handle.id() : 0);
    // Detached: K-means and aggregation on its own thread never stall the scheduler.
    auto coord = sys.spawn<caf::detached>(coordinator, cc, clients, pool, observer, report);
    self->request(coord, caf::infinite, run_atom::value)
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { failure = sys.render(err); });
    // Stop everything explicitly: ~actor_system waits for every actor (CAF 0.17 notes, §9).
    for (auto& m : managers)
      self->request(m, std::chrono::seconds(10), teardown_atom::value).receive([](std::uint32_t) {}, [](caf::error&) {});
    if (managers.empty())
      for (auto& c : clients)
        caf::anon_send_exit(c.handle, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(coord, caf::exit_reason::user_shutdown);
  }
  if (!failure.empty())
    throw std::runtime_error("the run failed: " + failure);
  return std::move(*report);
}

} // namespace flotilla::actors
