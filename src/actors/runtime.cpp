#include "actors/runtime.hpp"

#include <caf/io/all.hpp>

#include <thread>

#include "actors/client.hpp"
#include "actors/coordinator.hpp"
#include "actors/node_context.hpp"
#include "actors/protocol.hpp"
#include "actors/trainer_pool.hpp"
#include "model/trainer.hpp"

namespace flotilla::actors {

namespace {
std::uint32_t cores() {
  return std::max(1u, std::thread::hardware_concurrency());
}
} // namespace

void configure_actor_system(caf::actor_system_config& cfg, std::uint32_t scheduler_threads) {
  add_protocol_types(cfg);
  cfg.load<caf::io::middleman>();
  cfg.set("scheduler.max-threads", static_cast<std::size_t>(scheduler_threads > 0 ? scheduler_threads : cores()));
  cfg.set("logger.console", caf::atom("none"));
}

fl::run_report run_simulation(const app::settings& s, std::shared_ptr<const data::dataset> data,
                              std::shared_ptr<fl::run_observer> observer,
                              const client_override& override_client) {
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
  cc.initial_model = model::initial_weights(s.model, s.seed);

  auto report = std::make_shared<fl::run_report>();
  caf::actor_system_config cfg;
  configure_actor_system(cfg, s.runtime.scheduler_threads);
  std::string failure;
  {
    caf::actor_system sys{cfg};
    auto pool = spawn_trainer_pool(sys, ctx, s.runtime.trainers > 0 ? s.runtime.trainers : cores());
    std::vector<peer> clients;
    for (std::uint32_t id = 0; id < s.clients; ++id) {
      caf::actor hdl = override_client ? override_client(sys, id) : caf::actor{};
      if (!hdl)
        hdl = sys.spawn(client, id, std::shared_ptr<const node_context>(ctx), pool);
      clients.push_back({id, hdl});
      report->client_actors.push_back(hdl.id());
    }
    // Detached: K-means and aggregation on its own thread never stall the scheduler.
    auto coord = sys.spawn<caf::detached>(coordinator, cc, clients, pool, observer, report);
    {
      caf::scoped_actor self{sys};
      self->request(coord, caf::infinite, run_atom::value)
        .receive([](caf::ok_atom) {}, [&](caf::error& err) { failure = sys.render(err); });
    }
    // Stop everything explicitly: ~actor_system waits for every actor (CAF 0.17 notes, §9).
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
