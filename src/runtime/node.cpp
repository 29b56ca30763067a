#include "runtime/node.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <csignal>
#include <cstdlib>
#include <cstdio>

#include "actors/client.hpp"
#include "actors/node_context.hpp"
#include "actors/protocol.hpp"
#include "actors/trainer_pool.hpp"
#include "actors/errors.hpp"
#include "config/config.hpp"
#include "runtime/actor_system_setup.hpp"
#include "model/trainer.hpp"

namespace flotilla::runtime {

using namespace flotilla::actors;

namespace {

void log(const std::string& text) {
  std::printf("flotilla node: %s\n", text.c_str());
  std::fflush(stdout);
}

struct node_state {
  std::vector<std::string> overrides;
  std::string data_key;                         ///< dataset options of the cached copy
  std::shared_ptr<const data::dataset> data;    ///< kept between runs
  caf::actor_addr owner;                        ///< the coordinator side of the current run
  caf::actor pool;
  std::vector<caf::actor> clients;
  static inline const char* name = "flotilla.node";
};

using node_actor = caf::stateful_actor<node_state>;

std::size_t teardown(node_actor* self) {
  auto& st = self->state;
  auto n = st.clients.size();
  for (auto& c : st.clients)
    self->send_exit(c, caf::exit_reason::user_shutdown);
  if (st.pool)
    self->send_exit(st.pool, caf::exit_reason::user_shutdown);
  st.clients.clear();
  st.pool = nullptr;
  st.owner = nullptr;
  return n;
}

caf::expected<std::vector<caf::actor>> setup(node_actor* self, const std::string& config_json,
                                             const std::vector<std::uint32_t>& ids, const std::string& fingerprint) {
  auto& st = self->state;
  try {
    auto config = nlohmann::json::parse(config_json);
    for (const auto& o : st.overrides)
      config::apply_override(config, o);
    auto s = config::settings_from(config);
    auto key = s.data.dataset + "|" + s.data.root + "|" + std::to_string(s.data.train_limit);
    if (!st.data || st.data_key != key) {
      log("loading " + s.data.dataset + " (" + (s.data.root.empty() ? data::default_root(s.data.dataset) : s.data.root) + ")");
      st.data = data::load_dataset(s.data);
      st.data_key = key;
    }
    if (st.data->fingerprint != fingerprint)
      return make_error(errc::data_error,
                             "the dataset on this node differs from the coordinator's (fingerprint " +
                                 st.data->fingerprint.substr(0, 12) + " vs " + fingerprint.substr(0, 12) +
                                 "); give the node the same files (data.root) and data.train_limit");
    auto ctx = node_context_for(s, st.data);
    st.pool = spawn_trainer_pool(self->system(), ctx, s.runtime.trainers > 0 ? s.runtime.trainers : ctx->cores);
    for (auto id : ids) {
      if (id >= s.experiment.total_clients())
        throw std::invalid_argument("client id " + std::to_string(id) + " is not below clients=" +
                                    std::to_string(s.experiment.total_clients()));
      st.clients.push_back(self->system().spawn(client, id, std::shared_ptr<const node_context>(ctx), st.pool));
    }
    std::string list;
    for (auto id : ids)
      list += (list.empty() ? "" : ",") + std::to_string(id);
    log("run '" + s.name + "': hosting " + std::to_string(ids.size()) + " clients [" + list + "]");
    return st.clients;
  } catch (const std::exception& e) {
    teardown(self);
    return make_error(errc::config_error, std::string("node setup failed: ") + e.what());
  }
}

caf::behavior node_manager(node_actor* self, std::vector<std::string> overrides) {
  self->state.overrides = std::move(overrides);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source && dm.source == self->state.owner) {
      auto n = teardown(self);
      log("coordinator lost (" + self->system().render(dm.reason) + "): dropped " + std::to_string(n) +
          " clients; ready for the next run");
    }
  });
  return {
    [=](setup_atom, const std::string& config_json, const std::vector<std::uint32_t>& ids,
        const std::string& fingerprint) -> caf::result<std::vector<caf::actor>> {
      if (!self->state.clients.empty())
        return make_error(errc::node_busy, "node busy: another coordinator's run is active");
      auto owner = caf::actor_cast<caf::actor>(self->current_sender());
      auto res = setup(self, config_json, ids, fingerprint);
      if (!res)
        return res.error();
      self->state.owner = owner.address();
      self->monitor(owner);
      return std::move(*res);
    },
    [=](teardown_atom) {
      auto n = teardown(self);
      log("run ended: dropped " + std::to_string(n) + " clients; ready for the next run");
      return static_cast<std::uint32_t>(n);
    },
  };
}

} // namespace

const std::vector<std::string>& node_local_keys() {
  static const std::vector<std::string> keys{"data.root", "runtime.trainers", "runtime.scheduler_threads"};
  return keys;
}

int serve_node(const node_options& options) {
  // Validate local overrides against the schema before anything listens.
  auto local = config::default_config();
  for (const auto& o : options.overrides) {
    auto key = o.substr(0, o.find('='));
    if (std::find(node_local_keys().begin(), node_local_keys().end(), key) == node_local_keys().end())
      throw config::config_error("a node takes only node-local keys (data.root, runtime.trainers, "
                              "runtime.scheduler_threads); '" + key + "' comes from the coordinator's config");
    config::apply_override(local, o);
  }
  auto s = config::settings_from(local);
  bool tls = options.tls.enabled();
  if (tls)
    config::check_tls_files(options.tls, "--tls-");
  model::configure_torch_threads(1);
  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  caf::actor_system_config cfg;
  auto rt = s.runtime;
  rt.tls = options.tls;
  configure_actor_system(cfg, rt, /*direct_links=*/!is_loopback(options.bind));
  caf::actor_system sys{cfg};
  auto manager = sys.spawn<caf::detached>(node_manager, options.overrides);
  auto port = tls ? caf::openssl::publish(manager, options.port, options.bind.c_str(), true)
                  : sys.middleman().publish(manager, options.port, options.bind.c_str(), true);
  if (!port) {
    caf::anon_send_exit(manager, caf::exit_reason::user_shutdown);
    throw std::runtime_error("cannot listen on " + options.bind + ":" + std::to_string(options.port) + ": " +
                             sys.render(port.error()) + " (port in use? try another --port)");
  }
  log("listening on " + options.bind + ":" + std::to_string(*port) +
      (tls ? " (mutual TLS)" : " (plain TCP, no TLS: keep it on a trusted network or use --tls-*)"));
  int sig = 0;
  sigwait(&stop, &sig);
  log(std::string("stopping (") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ")");
  if (!tls) // openssl's unpublish does not compile in 0.17.6; the system's shutdown closes it
    sys.middleman().unpublish(manager, *port);
  {
    // Stop the clients first: ~actor_system waits for every actor.
    caf::scoped_actor self{sys};
    self->request(manager, std::chrono::seconds(10), teardown_atom::value).receive([](std::uint32_t) {}, [](caf::error&) {});
  }
  caf::anon_send_exit(manager, caf::exit_reason::user_shutdown);
  // ~actor_system can wait forever here: actors whose handles went to other nodes stay
  // referenced by the middleman (CAF 0.17 notes §9, issue #1110). A node keeps nothing that
  // needs an orderly shutdown once its clients are gone, so leave without it.
  std::fflush(nullptr);
  std::_Exit(0);
}

} // namespace flotilla::runtime
