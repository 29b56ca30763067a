#include "runtime/node.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstdio>

#include "actors/blob_transfer.hpp"
#include "actors/client.hpp"
#include "actors/node_context.hpp"
#include "fl/secagg/model_registry.hpp"
#include "actors/protocol.hpp"
#include "actors/trainer_pool.hpp"
#include "actors/errors.hpp"
#include "actors/exception_policy.hpp"
#include "config/config.hpp"
#include "runtime/actor_system_setup.hpp"
#include "model/model_error.hpp"
#include "model/trainer.hpp"
#include "data/data_error.hpp"
#include "fl/resources.hpp"
#include "net/guard.hpp"
#include "net/tls_check.hpp"
#include "runtime/remote_clients.hpp"

namespace flotilla::runtime {

using namespace flotilla::actors;

namespace {

// Internal: the node's own main thread asks the manager to drop everything before exiting.
using stop_atom = caf::atom_constant<caf::atom("nodestop")>;

void log(const std::string& text) {
  std::printf("flotilla node: %s\n", text.c_str());
  std::fflush(stdout);
}

struct node_state {
  bool one_run = false;                         ///< a joined node ends with its run
  std::vector<std::string> overrides;           ///< node-local keys from the command line
  config::runtime_options runtime;              ///< this node's TLS and connection settings
  std::string data_key;                         ///< dataset options of the cached copy
  std::shared_ptr<const data::dataset> data;    ///< kept between runs
  caf::actor_addr owner;                        ///< the coordinator side of the current run
  actors::trainer_pool_handle pool;
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
                                             const std::vector<std::uint32_t>& ids, const std::string& fingerprint,
                                             const std::string& registrar_key) {
  auto& st = self->state;
  try {
    // Secure aggregation: the coordinator's key that signs each round's model (hex), or none.
    std::optional<fl::secagg::key32> registrar;
    if (!registrar_key.empty() && !(registrar = fl::secagg::key_from_hex(registrar_key)))
      return make_error(errc::config_error, "the coordinator's model-registration key is not 64 hex digits");
    // What is local to this machine is this node's own decision, never the peer's: where the
    // data lives, its threads, its TLS files, its outputs.
    auto config = config::node_config(nlohmann::json::parse(config_json), st.overrides);
    // This node's model.file serves runs of model.name=torchscript; a run of a built-in model
    // ignores it, and a TorchScript run needs it.
    if (config["model"]["name"] != "torchscript")
      config["model"]["file"] = "";
    else if (config["model"]["file"].get<std::string>().empty())
      return make_error(errc::model_error, "the run trains a TorchScript module, but this node has no copy of it: "
                                           "start the node with model.file=PATH (the coordinator's file)");
    auto s = config::settings_from(config);
    // Every data option (generated sets depend on all of them, and on the seed) and whether the
    // set is made on demand (the partition scheme decides).
    auto key = config.at("data").dump() + "|" + std::to_string(s.data.seed) + "|" + std::to_string(s.data.on_demand);
    if (!st.data || st.data_key != key) {
      log("loading " + s.data.dataset + " (" + (s.data.root.empty() ? data::default_root(s.data.dataset) : s.data.root) + ")");
      st.data = data::load_dataset(s.data);
      st.data_key = key;
    }
    // A TorchScript model's digest follows the data's fingerprint (local_run.cpp): this node's
    // own copy of model.file must be the coordinator's file, byte for byte.
    auto mark = fingerprint.find(model_mark);
    auto data_part = fingerprint.substr(0, mark);
    auto model_part = mark == std::string::npos ? std::string{} : fingerprint.substr(mark + model_mark.size());
    auto choice = config::fitted_model(s, *st.data);
    auto own = choice.name == "torchscript" ? model::spec_of(choice).file_sha256 : std::string{};
    if (own != model_part)
      return make_error(errc::model_error,
                        "model.file on this node (" + choice.file + ", SHA-256 " + own.substr(0, 12) +
                            ") differs from the coordinator's (SHA-256 " + model_part.substr(0, 12) +
                            "); copy the coordinator's file to this node (set its path with model.file=PATH on the node)");
    if (st.data->fingerprint != data_part)
      return make_error(errc::data_error,
                             "the dataset on this node differs from the coordinator's (fingerprint " +
                                 st.data->fingerprint.substr(0, 12) + " vs " + data_part.substr(0, 12) +
                                 "); give the node the same files (data.root, data.file) and data.train_limit");
    auto ctx = node_context_for(s, st.data);
    ctx->registrar_key = registrar;
    ctx->client_state_dir = client_state_dir(s, config_json, fingerprint);
    st.pool = spawn_trainer_pool(self->system(), ctx, s.runtime.trainers > 0 ? s.runtime.trainers : ctx->cores);
    self->monitor(st.pool); // a pool that threw takes the run's clients with it (down handler)
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
  } catch (const data::data_error& e) {
    teardown(self);
    return make_error(errc::data_error, std::string("node setup failed: ") + e.what());
  } catch (const model::model_error& e) {
    teardown(self);
    return make_error(errc::model_error, std::string("node setup failed: ") + e.what());
  } catch (const std::exception& e) {
    teardown(self);
    return make_error(errc::config_error, std::string("node setup failed: ") + e.what());
  }
}

// Only the coordinator that owns the current run may change it.
bool from_owner(node_actor* self) {
  return self->state.owner && caf::actor_cast<caf::actor_addr>(self->current_sender()) == self->state.owner;
}

caf::error not_owner() {
  return make_error(errc::not_owner, "this node serves another coordinator's run; only that coordinator may change it");
}

caf::behavior node_manager(node_actor* self, std::vector<std::string> overrides, config::runtime_options rt,
                           bool one_run) {
  self->state.one_run = one_run;
  self->state.overrides = std::move(overrides);
  self->state.runtime = std::move(rt);
  self->set_default_handler(drop_unexpected);
  end_on_exception(self, "flotilla.node");
  self->set_down_handler([=](caf::down_msg& dm) {
    // The pool threw: its clients end with the same reason, so the coordinator (which monitors
    // them) ends the run with that class instead of waiting for answers that never come.
    if (dm.source && self->state.pool && dm.source == self->state.pool.address() && ends_run(dm.reason)) {
      log("the trainer pool failed (" + self->system().render(dm.reason) + "): ending the run's clients");
      for (auto& c : self->state.clients)
        self->send_exit(c, dm.reason);
      return;
    }
    if (dm.source && dm.source == self->state.owner) {
      auto n = teardown(self);
      log("coordinator lost (" + self->system().render(dm.reason) + "): dropped " + std::to_string(n) +
          (self->state.one_run ? " clients; the run this node joined is over" : " clients; ready for the next run"));
      if (self->state.one_run)
        ::kill(::getpid(), SIGUSR1); // wakes the main thread: the node's work is done
    }
  });
  return {
    [=](setup_atom, const std::string& config_json, const std::vector<std::uint32_t>& ids,
        const std::string& fingerprint, const std::string& registrar_key) -> caf::result<std::vector<caf::actor>> {
      if (self->state.owner) // a run is active, even one that placed no clients here
        return make_error(errc::node_busy, "node busy: another coordinator's run is active");
      auto owner = caf::actor_cast<caf::actor>(self->current_sender());
      auto res = setup(self, config_json, ids, fingerprint, registrar_key);
      if (!res)
        return res.error();
      self->state.owner = owner.address();
      self->monitor(owner);
      return std::move(*res);
    },
    [=](stop_atom) -> caf::result<std::uint32_t> {
      // Only this process's own main thread may stop the node.
      auto sender = self->current_sender();
      if (!sender || sender->node() != self->node())
        return not_owner();
      return static_cast<std::uint32_t>(teardown(self));
    },
    [=](teardown_atom) -> caf::result<std::uint32_t> {
      if (!from_owner(self))
        return not_owner();
      auto n = teardown(self);
      auto t = transfer_totals();
      log("run ended: dropped " + std::to_string(n) + " clients; ready for the next run (since start: " +
          std::to_string(t.blobs_shared) + " blobs sent as references, " + std::to_string(t.chunks_served) +
          " chunks served, " + std::to_string(t.bytes_served >> 20) + " MiB)");
      if (self->state.one_run)
        ::kill(::getpid(), SIGUSR1);
      return static_cast<std::uint32_t>(n);
    },
    // Direct links to the run's other nodes, so cluster traffic between them does not pass
    // through the coordinator's node (BASP routes over a direct connection once one exists).
    // The manager is detached: blocking in remote_actor stalls nothing else.
    [=](link_atom, const std::vector<std::string>& peers) -> caf::result<std::uint32_t> {
      if (!from_owner(self))
        return not_owner();
      std::uint32_t linked = 0;
      for (const auto& p : peers) {
        try {
          connect_node(self->system(), p, self->state.runtime);
          ++linked;
        } catch (const std::exception& e) {
          log("no direct link to " + p + " (messages to it are relayed by the coordinator's node): " + e.what());
        }
      }
      log("linked directly to " + std::to_string(linked) + " of " + std::to_string(peers.size()) + " peer nodes");
      return linked;
    },
  };
}

// Stops the clients (~actor_system waits for every actor) and leaves the process.
[[noreturn]] int leave(caf::actor_system& sys, const caf::actor& manager) {
  {
    caf::scoped_actor self{sys};
    self->request(manager, std::chrono::seconds(10), stop_atom::value).receive([](std::uint32_t) {}, [](caf::error&) {});
  }
  caf::anon_send_exit(manager, caf::exit_reason::user_shutdown);
  log("peak memory (VmHWM): " + std::to_string(fl::peak_rss_bytes() >> 20) + " MiB");
  // ~actor_system can wait forever here: actors whose handles went to other nodes stay
  // referenced by the middleman (docs/caf-notes.md §9, issue #1110). A node keeps nothing that
  // needs an orderly shutdown once its clients are gone, so leave without it.
  std::fflush(nullptr);
  std::_Exit(0);
}

// `flotilla node --join HOST:PORT`: offers this node to a running coordinator (runtime.listen),
// hosts the late clients it is given, and ends with that run.
int join_run(caf::actor_system& sys, const caf::actor& manager, const node_options& options,
             const config::runtime_options& rt, const sigset_t& stop) {
  auto desk = connect_node(sys, options.join, rt);
  std::string error;
  std::uint32_t hosted = 0;
  {
    caf::scoped_actor self{sys};
    self->request(desk, std::chrono::minutes(5), join_atom::value, manager)
      .receive([&](std::uint32_t n) { hosted = n; }, [&](caf::error& err) { error = text_of(sys, err); });
  }
  if (!error.empty()) {
    caf::anon_send_exit(manager, caf::exit_reason::user_shutdown);
    throw std::runtime_error("the coordinator at " + options.join + " did not take this node: " + error);
  }
  log("joined the run at " + options.join + ": hosting " + std::to_string(hosted) + " late clients");
  int sig = 0;
  sigwait(&stop, &sig);
  log(sig == SIGUSR1 ? "the joined run is over; stopping" : std::string("stopping (") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ")");
  return leave(sys, manager);
}

} // namespace

const std::vector<std::string>& node_local_keys() {
  static const std::vector<std::string> keys{"data.root", "data.file", "model.file", "runtime.trainers",
                                             "runtime.scheduler_threads", "runtime.chunk_kib",
                                             "runtime.client_state"};
  return keys;
}

int serve_node(const node_options& options) {
  // Validate local overrides against the schema before anything listens.
  auto local = config::default_config();
  for (const auto& o : options.overrides) {
    auto key = o.substr(0, o.find('='));
    if (std::find(node_local_keys().begin(), node_local_keys().end(), key) == node_local_keys().end()) {
      std::string list;
      for (const auto& k : node_local_keys())
        list += (list.empty() ? "" : ", ") + k;
      throw config::config_error("a node takes only node-local keys (" + list + "); '" + key +
                                 "' comes from the coordinator's config");
    }
    config::apply_override(local, o);
  }
  // This node's copy of a TorchScript module: the coordinator's model.name will read it.
  if (!local["model"]["file"].get<std::string>().empty())
    local["model"]["name"] = "torchscript";
  auto s = config::settings_from(local);
  bool tls = options.tls.enabled();
  if (tls)
    net::check_tls_files(options.tls.cert, options.tls.key, options.tls.ca);
  else if (!is_loopback(options.bind) && !options.insecure)
    throw config::config_error("plain TCP on " + options.bind + " would let anyone who can reach it run clients "
                               "here; give --tls-cert/--tls-key/--tls-ca (scripts/make-certs.sh), or --insecure "
                               "on a network you trust");
  model::configure_torch_threads(1);
  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGUSR1); // a joined node's run is over
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  caf::actor_system_config cfg;
  auto rt = s.runtime;
  rt.tls = options.tls;
  configure_actor_system(cfg, rt);
  caf::actor_system sys{cfg};
  actors::set_transfer_settings(transfer_settings_of(s));
  actors::blob_server_scope blobs{sys}; // stopped on every way out (the process mostly leaves by _Exit)
  bool joining = !options.join.empty();
  auto manager = sys.spawn<caf::detached>(node_manager, options.overrides, rt, joining);
  if (joining)
    return join_run(sys, manager, options, rt, stop);
  // CAF listens nowhere: the guard owns the port and hands CAF only checked connections.
  net::guard_options g;
  g.bind = options.bind;
  g.port = options.port;
  if (tls) {
    g.cert = options.tls.cert;
    g.key = options.tls.key;
    g.ca = options.tls.ca;
  }
  g.on_event = [](const std::string& text) { log(text); };
  std::unique_ptr<net::guard> guard;
  try {
    guard = net::guard::start(sys, manager, g);
  } catch (const std::exception& e) {
    caf::anon_send_exit(manager, caf::exit_reason::user_shutdown);
    throw std::runtime_error("cannot listen on " + options.bind + ":" + std::to_string(options.port) + ": " +
                             e.what() + " (port in use? try another --port)");
  }
  log("listening on " + options.bind + ":" + std::to_string(guard->port()) +
      (tls ? " (mutual TLS)" : " (plain TCP, no TLS: keep it on a trusted network or use --tls-*)"));
  int sig = 0;
  sigwait(&stop, &sig);
  log(std::string("stopping (") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ")");
  guard->stop();
  return leave(sys, manager);
}

} // namespace flotilla::runtime
