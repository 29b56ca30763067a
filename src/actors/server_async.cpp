#include "actors/server_async.hpp"

#include "fl/experiment.hpp"

#include <algorithm>

#include "actors/async_steps.hpp"
#include "actors/errors.hpp"
#include "actors/fan_out.hpp"
#include "fl/seeds.hpp"

namespace flotilla::actors {

namespace {

// The engine of this server's cluster, continuing from where the cluster's last round left it.
std::shared_ptr<async_steps> steps_of(client_actor* self, const cluster_round_ins& ins) {
  auto& srv = *self->state.server;
  if (srv.steps)
    return srv.steps;
  const auto& role = srv.role;
  async_setup setup;
  setup.header.phase = "cluster";
  setup.header.cluster = role.cluster;
  setup.header.server = self->state.id;
  setup.header.term = role.term;
  setup.options = role.async;
  setup.seed = fl::splitmix64(role.seed + role.cluster + 1); // each cluster draws its own members
  setup.epochs = role.epochs;
  setup.timeout_s = role.timeout_s;
  setup.parameters = self->state.ctx->model.parameters;
  setup.layer_phase = "cluster";
  if (const auto& clock = self->state.ctx->clock) // this device's link and speed
    setup.sim = virtual_round{0, clock, static_cast<std::int64_t>(self->state.id), ins.sim_deadline_s};
  setup.wall_now = [] { return 0.0; }; // under the wall clock the coordinator stamps the time
  if (role.secure) // FedBuff under secure aggregation: each buffer summed under masks
    setup.secure = server_secure_setup(self, {});
  async_position from{ins.round - 1, ins.sim_start, from_wire(role.in_flight)};
  srv.steps = async_steps::create(*self->state.watch, *srv.strategy, std::move(setup), srv.model, std::move(from));
  return srv.steps;
}

} // namespace

std::string check_promoted_flights(const server_role& role, std::size_t parameters) {
  const auto& w = role.in_flight;
  if (w.version_ids.size() != w.versions.size())
    return std::to_string(w.version_ids.size()) + " version ids for " + std::to_string(w.versions.size()) + " models";
  return fl::check_async_state(from_wire(w), std::numeric_limits<std::uint64_t>::max(), role.async.concurrency,
                               parameters, std::numeric_limits<std::uint32_t>::max());
}

caf::result<round_result> async_cluster_round(client_actor* self, const cluster_round_ins& ins) {
  auto rp = self->make_response_promise<round_result>();
  auto steps = steps_of(self, ins);
  auto cluster = self->state.server->role.cluster;
  if (ins.round != steps->version() + 1) {
    rp.deliver(make_error(errc::round_failed, "cluster " + std::to_string(cluster) + ": round " +
                                                std::to_string(ins.round) + " asked of a server at step " +
                                                std::to_string(steps->version())));
    return rp;
  }
  // Secure aggregation: the coordinator's registrations of the versions fits may be sent at.
  if (ins.versions.size() > self->state.server->role.async.concurrency + 1) {
    rp.deliver(make_error(errc::round_failed, "cluster " + std::to_string(cluster) + ": round " +
                                                std::to_string(ins.round) + " comes with " +
                                                std::to_string(ins.versions.size()) + " model registrations, more " +
                                                "than strategy.concurrency + 1"));
    return rp;
  }
  for (const auto& v : ins.versions)
    if (v.registration.present)
      steps->registered(v.version, v.registration.bytes());
  if (std::exchange(self->state.inconsistent_model, false))
    steps->tamper_next(inconsistent_model);
  if (ins.sim_start > steps->now()) // a common point moved the cluster's clock on
    steps->advance(ins.sim_start - steps->now());
  auto members = ins.members;
  steps->next(ins.members, ins.durable, [self, rp, members, cluster, steps](async_step s) mutable {
    if (!s.error.empty()) {
      // A step the strategy cannot aggregate ends the run (config_error), as a synchronous round
      // it can never aggregate does; an election would only meet it again.
      rp.deliver(make_error(s.repeats ? errc::config_error : errc::round_failed,
                            "cluster " + std::to_string(cluster) + " step " + std::to_string(steps->version() + 1) +
                              ": " + s.error));
      return;
    }
    if (!self->state.server || self->state.server->steps != steps)
      return; // demoted (or promoted again) since: this step's result is no one's
    auto& srv = *self->state.server;
    srv.model = steps->model();
    auto finish = [self, rp, steps](fl::round_record rec, eval_summary e) mutable {
      if (!self->state.server || self->state.server->steps != steps)
        return; // demoted while it evaluated
      auto& srv = *self->state.server;
      rec.test_accuracy = e.accuracy;
      rec.test_loss = e.loss;
      rec.evaluated = e.samples;
      round_result res{std::move(rec), srv.model, srv.strategy->state(), self->address(), {},
                       to_wire(steps->position().state, srv.model.layout)};
      rp.deliver(std::move(res));
    };
    auto rec = std::move(s.record);
    const auto& role = srv.role;
    if (!fl::evaluated_step(rec.round, role.rounds, role.eval_every))
      return finish(std::move(rec), eval_summary{{}, 0, fl::not_evaluated, fl::not_evaluated});
    // Evaluated on the members' local splits, like a synchronous round (those that just failed
    // are skipped).
    std::vector<peer> reachable;
    for (const auto& m : members)
      if (std::find(rec.failed.begin(), rec.failed.end(), m.id) == rec.failed.end())
        reachable.push_back(m);
    auto model = srv.model;
    fan_out<eval_result>(*self->state.watch, reachable, role.timeout_s,
                         [model](const peer&) { return std::make_tuple(evaluate_atom::value, model); },
                         [finish, rec](fan_in<eval_result>& evals) mutable { finish(std::move(rec), combine(evals.results)); });
  });
  return rp;
}

} // namespace flotilla::actors
