#include "runtime/local_run.hpp"

#include <caf/io/all.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <set>

#include "actors/blob_transfer.hpp"
#include "actors/client.hpp"
#include "common/atomic_file.hpp"
#include "fl/cluster_methods.hpp"
#include "actors/coordinator.hpp"
#include "actors/errors.hpp"
#include "actors/node_context.hpp"
#include "fl/secagg/model_registry.hpp"
#include "actors/protocol.hpp"
#include "actors/trainer_pool.hpp"
#include "model/model_file.hpp"
#include "model/trainer.hpp"
#include "runtime/actor_system_setup.hpp"
#include "runtime/exit_status.hpp"
#include "net/guard.hpp"
#include "net/tls_check.hpp"
#include "runtime/join_desk.hpp"
#include "runtime/remote_clients.hpp"

namespace flotilla::runtime {

std::vector<float> initial_model(const config::settings& s, const model::model_choice& choice) {
  return s.model.init.empty() ? model::initial_weights(choice, s.experiment.seed) : model::load_model(choice, s.model.init);
}

namespace {

run_error::kind kind_of(const caf::error& e) {
  switch (actors::code_of(e).value_or(actors::errc::round_failed)) {
    case actors::errc::model_error:
      return run_error::kind::model;
    case actors::errc::data_error:
      return run_error::kind::data;
    case actors::errc::config_error:
      return run_error::kind::config;
    default:
      return run_error::kind::other;
  }
}

// Tells every node still there to drop the run. Nodes that went down during the run are
// skipped (a request to a dead node is never answered: each would cost the full deadline);
// the others are asked all at once, so a node that hangs costs one short deadline in all.
void teardown_nodes(caf::scoped_actor& self, const std::vector<caf::actor>& managers) {
  std::set<caf::actor_addr> down;
  bool more = true;
  while (more)
    self->receive([&](caf::down_msg& dm) { down.insert(dm.source); },
                  caf::after(std::chrono::seconds(0)) >> [&] { more = false; });
  std::size_t asked = 0;
  for (const auto& m : managers)
    if (!down.count(m.address())) {
      self->send(m, actors::teardown_atom::value);
      ++asked;
    }
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (std::size_t answered = 0; answered < asked && std::chrono::steady_clock::now() < until;)
    self->receive([&](std::uint32_t) { ++answered; }, [&](caf::down_msg&) { ++answered; },
                  [&](caf::error&) { ++answered; },
                  caf::after(until - std::chrono::steady_clock::now()) >> [&] { answered = asked; });
}

// Destroys the actor system on this thread. CAF 0.17 can wait forever for actors other nodes
// still reference (docs/caf-notes.md §9; issue 8 item 7, ~1 in 35 runs): after 15 s a watchdog leaves the
// process with `code` (what the run's own outcome would exit with), the results already written.
void close_system(std::shared_ptr<caf::actor_system> system, int code, const std::string& message) {
  std::mutex m;
  std::condition_variable cv;
  bool closed = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(m);
    if (cv.wait_for(lock, std::chrono::seconds(15), [&] { return closed; }))
      return;
    if (!message.empty())
      std::fprintf(stderr, "flotilla: %s\n", message.c_str());
    std::fprintf(stderr, "flotilla: the actor system did not shut down within 15 s; leaving without it\n");
    std::fflush(nullptr);
    std::_Exit(code);
  });
  system.reset();
  {
    std::lock_guard<std::mutex> lock(m);
    closed = true;
  }
  cv.notify_one();
  watchdog.join();
}

} // namespace

namespace {

// Whether this run's registered clients can be descriptors (coordinator_options::spawn_client):
// plain FL (no clustering, which would ask every client) in synchronous rounds, with nothing a
// client keeps between rounds (FedBN's layers), in one process.
bool descriptors(const config::settings& s) {
  const auto& ex = s.experiment;
  return fl::plain_fl(ex.clustering.method) &&
         !ex.async.asynchronous() && s.model.buffers == "average" && s.runtime.nodes.empty() && s.runtime.listen == 0;
}

} // namespace

fl::run_report run_experiment(const config::settings& s, std::shared_ptr<const data::dataset> data,
                              std::shared_ptr<fl::run_observer> observer, const client_override& override_client,
                              const std::string& config_json, std::shared_ptr<const fl::checkpoint> resume,
                              const std::function<void(fl::run_report&)>& finish,
                              std::shared_ptr<const std::vector<data::client_partition>> partitions) {
  if (!s.runtime.nodes.empty() && config_json.empty())
    throw std::invalid_argument("run_experiment: a run on nodes needs the resolved config");
  // CAF 0.17.6 would hang in remote_actor on a key that does not fit its certificate.
  if (s.runtime.tls.enabled())
    net::check_tls_files(s.runtime.tls.cert, s.runtime.tls.key, s.runtime.tls.ca);
  auto ctx = node_context_for(s, data, partitions); // the run plan's, when given
  auto fingerprint = run_fingerprint(*data, ctx->model);
  ctx->client_state_dir = client_state_dir(s, config_json, fingerprint);

  actors::coordinator_options co;
  co.experiment = s.experiment;
  co.model = ctx->model;
  co.epochs = s.train.epochs;
  co.liveness_s = s.runtime.liveness_s;
  co.async_checkpoint_s = s.runtime.async_checkpoint_s;
  co.local_layers = s.model.buffers == "local";
  co.clock = ctx->clock;
  co.initial_model = resume ? resume->global : initial_model(s, ctx->model_choice);
  co.resume = std::move(resume);
  // Secure aggregation: this run's registrar key, fresh; its public half goes to every client
  // with its setup (here, or a node's setup request), never through an aggregator.
  std::string registrar_hex;
  if (s.experiment.privacy.secure_aggregation) {
    auto registrar = std::make_shared<const fl::secagg::model_registrar>(fl::secagg::os_random());
    ctx->registrar_key = registrar->public_key();
    registrar_hex = fl::secagg::key_hex(registrar->public_key());
    co.registrar = std::move(registrar);
  }

  auto report = std::make_shared<fl::run_report>();
  caf::actor_system_config cfg;
  configure_actor_system(cfg, s.runtime);
  caf::error failure;
  std::string failure_text;
  // Owned by a shared pointer: if shutting it down hangs (CAF 0.17 can wait forever for actors
  // that other nodes still reference, docs/caf-notes.md §9), a closing thread keeps it and the run's results
  // are not held hostage.
  auto system = std::make_shared<caf::actor_system>(cfg);
  actors::set_transfer_settings(transfer_settings_of(s));
  {
    auto& sys = *system;
    actors::blob_server_scope blobs{sys}; // stopped on every way out of this block, before the system closes
    // This process's pool: every client's training in a local run, the test set on nodes.
    auto pool = actors::spawn_trainer_pool(sys, ctx, s.runtime.trainers > 0 ? s.runtime.trainers : cores());
    // Held for the whole run: nodes monitor it and drop the run's clients if it goes away.
    caf::scoped_actor self{sys};
    std::vector<caf::actor> managers;
    std::vector<actors::peer> clients;
    try {
      if (!s.runtime.nodes.empty()) {
        clients = spawn_remote_clients(sys, self, s, config_json, fingerprint, registrar_hex, managers);
      } else {
        // Plain FL in one process: registered clients are descriptors (their data slice, device
        // and availability are functions of the id), with an actor only while sampled. Clients a
        // fault targets keep theirs, so the fault outlives the round that injects it.
        std::set<std::uint32_t> targets;
        for (const auto& f : s.experiment.faults)
          if (f.client >= 0)
            targets.insert(static_cast<std::uint32_t>(f.client));
        if (descriptors(s) && !override_client) {
          auto shared = std::shared_ptr<const actors::node_context>(ctx);
          co.spawn_client = [&sys, shared, pool](std::uint32_t id) {
            return caf::actor_cast<actors::client_handle>(sys.spawn(actors::client, id, shared, pool));
          };
        }
        for (std::uint32_t id = 0; id < s.experiment.total_clients(); ++id) {
          if (s.runtime.listen > 0 && id >= s.experiment.clients) {
            clients.push_back({id, caf::actor{}}); // a joining node brings it
            continue;
          }
          if (co.spawn_client && !targets.count(id)) {
            clients.push_back({id, actors::client_handle{}});
            continue;
          }
          caf::actor hdl = override_client ? override_client(sys, id) : caf::actor{};
          if (!hdl)
            hdl = sys.spawn(actors::client, id, std::shared_ptr<const actors::node_context>(ctx), pool);
          clients.push_back({id, hdl});
        }
      }
    } catch (...) {
      teardown_nodes(self, managers);
      caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
      throw;
    }
    for (const auto& c : clients)
      report->client_actors.push_back(c.handle ? c.handle.id() : 0);
    // Detached: K-means and aggregation on its own thread never stall the scheduler.
    auto coord = sys.spawn<caf::detached>(actors::coordinator, co, clients, pool, observer, report);
    // With runtime.listen, nodes may join the running run and host its late clients.
    caf::actor desk;
    std::unique_ptr<net::guard> guard;
    if (s.runtime.listen > 0) {
      std::vector<std::uint32_t> late;
      for (auto id = s.experiment.clients; id < s.experiment.total_clients(); ++id)
        late.push_back(id);
      desk = sys.spawn(join_desk, coord, config_json.empty() ? std::string("{}") : config_json, late, fingerprint,
                       registrar_hex);
      net::guard_options g;
      g.bind = s.runtime.tls.enabled() ? "0.0.0.0" : "127.0.0.1"; // plain TCP stays on loopback
      g.port = static_cast<std::uint16_t>(s.runtime.listen);
      g.cert = s.runtime.tls.cert;
      g.key = s.runtime.tls.key;
      g.ca = s.runtime.tls.ca;
      try {
        guard = net::guard::start(sys, desk, g);
      } catch (const std::exception& e) {
        caf::anon_send_exit(desk, caf::exit_reason::user_shutdown);
        caf::anon_send_exit(coord, caf::exit_reason::user_shutdown);
        caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
        teardown_nodes(self, managers);
        throw std::runtime_error("cannot listen for joining nodes on port " + std::to_string(s.runtime.listen) +
                                 ": " + e.what() + " (runtime.listen: choose a free port)");
      }
      observer->on_event("listening for joining nodes on " + g.bind + ":" + std::to_string(guard->port()) +
                         " (flotilla node --join HOST:" + std::to_string(guard->port()) + ")");
    }
    self->request(coord, caf::infinite, actors::run_atom::value)
      .receive([](caf::ok_atom) {},
               [&](caf::error& err) {
                 failure = err;
                 failure_text = actors::text_of(sys, err);
               });
    // Stop everything explicitly: ~actor_system waits for every actor (docs/caf-notes.md §9).
    teardown_nodes(self, managers);
    if (managers.empty())
      for (auto& c : clients)
        caf::anon_send_exit(c.handle, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(coord, caf::exit_reason::user_shutdown);
    if (guard) {
      guard->stop(); // joined nodes see us go and drop the run
      caf::anon_send_exit(desk, caf::exit_reason::user_shutdown);
    }
  }
  // The results go out before the actor system is destroyed, so a shutdown that hangs holds
  // nothing back.
  std::exception_ptr finishing;
  if (!failure && finish) {
    try {
      finish(*report);
    } catch (...) {
      finishing = std::current_exception();
    }
  }
  auto kind = failure ? kind_of(failure) : run_error::kind::other;
  // What the process would exit with if the watchdog has to end it: the run's own outcome, by
  // the same mapping main uses.
  std::exception_ptr outcome =
    failure ? std::make_exception_ptr(run_error(kind, "the run failed: " + failure_text)) : finishing;
  int code = 0;
  std::string message;
  if (outcome) {
    auto status = exit_status_of(outcome);
    code = status.code, message = status.message;
  }
  close_system(std::move(system), code, message);
  if (outcome)
    std::rethrow_exception(outcome);
  return std::move(*report);
}

} // namespace flotilla::runtime
