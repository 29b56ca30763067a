#include "actors/client.hpp"

#include "actors/fan_out.hpp"
#include "fl/round_aggregate.hpp"

namespace flotilla::actors {

namespace {

// The handlers every client has, promoted or not.
caf::message_handler client_handlers(client_actor* self) {
  return {
    [=](fit_atom, std::uint32_t round, const weight_blob& w) {
      auto& st = self->state;
      if (!st.first_fit)
        st.first_fit = std::chrono::steady_clock::now();
      auto rp = self->make_response_promise<fit_result>();
      // The pool is on this node and always answers (a result or an error); the deadline is
      // on the request that reached this client, which also covers the wait for a trainer.
      self->request(st.pool, caf::infinite, fit_atom::value, st.id, round, w)
        .then(
          [=](fit_result& r) mutable {
            self->state.cpu_seconds += r.cpu_seconds;
            self->state.last_loss = r.train_loss;
            self->state.last_round = r.round;
            rp.deliver(std::move(r));
          },
          [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](evaluate_atom, const weight_blob& w) {
      return self->delegate(self->state.pool, evaluate_atom::value, self->state.id, w);
    },
    [=](resources_atom) {
      auto& st = self->state;
      auto [cpu, mem] = st.ctx->host->sample();
      double window = st.first_fit ? std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                                    *st.first_fit).count()
                                   : 0.0;
      return make_resource_report(st.id, *st.ctx, st.cpu_seconds, window, cpu, mem);
    },
    [=](member_atom, std::uint32_t cluster, const caf::actor& server) {
      self->state.cluster = cluster;
      self->state.server = server;
      return cluster;
    },
  };
}

// Aggregator handlers of a promoted client: one cluster round = fit (a sample of) members,
// fold their updates into FedAvg as they arrive, evaluate the new model on the members'
// local test splits.
caf::message_handler server_handlers(client_actor* self) {
  return {
    [=](cluster_round_atom, std::uint32_t round) {
      auto rp = self->make_response_promise<cluster_result>();
      auto start = std::chrono::steady_clock::now();
      const auto& spec = self->state.role->spec;
      std::vector<peer> all, asked;
      for (std::size_t i = 0; i < spec.members.size(); ++i)
        all.push_back({spec.member_ids[i], spec.members[i]});
      for (auto i : fl::sample_participants(all.size(), spec.fraction_fit, spec.seed * 1000003 + round))
        asked.push_back(all[i]);
      auto agg = std::make_shared<fl::round_aggregate>(spec.expected_size);
      // One message for all members: locally they share the buffer, no copy per member.
      auto fit_msg = caf::make_message(fit_atom::value, round, self->state.role->model);
      auto accept = [agg](std::uint32_t id, fit_result& r) {
        return agg->accept(id, r.samples, r.train_loss, r.weights.values());
      };
      auto fitted = [=](fan_in<fit_result>& fits) mutable {
        auto& role = *self->state.role;
        cluster_result res;
        res.cluster = role.spec.cluster;
        res.round = round;
        res.server_id = self->state.id;
        res.aggregator = self->address();
        for (const auto& f : fits.failures) {
          res.failed.push_back(f.id);
          res.failure_reasons.push_back(f.reason);
        }
        res.clients = static_cast<std::uint32_t>(agg->count());
        res.samples = agg->samples();
        if (agg->count() > 0 && agg->count() >= quorum_of(asked.size(), role.spec.quorum)) {
          res.train_loss = agg->train_loss();
          role.model = weight_blob{role.model.layout, agg->mean()};
          res.aggregated = true;
        }
        // Evaluate the (new or kept) cluster model where it is used: on members' splits.
        std::vector<peer> reachable;
        for (const auto& m : all)
          if (std::find(res.failed.begin(), res.failed.end(), m.id) == res.failed.end())
            reachable.push_back(m);
        auto eval_msg = caf::make_message(evaluate_atom::value, role.model);
        fan_out<eval_result>(
          self, reachable, role.spec.timeout_s, [eval_msg](const peer&) { return eval_msg; },
          [=](fan_in<eval_result>& evals) mutable {
            std::uint64_t n = 0;
            double correct = 0;
            for (const auto& [id, e] : evals.results) {
              n += e.samples;
              correct += e.accuracy * static_cast<double>(e.samples);
            }
            res.test_accuracy = n > 0 ? correct / static_cast<double>(n) : 0.0;
            res.evaluated = n;
            res.model = self->state.role->model;
            res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            rp.deliver(std::move(res));
          });
      };
      fan_out<fit_result>(self, asked, spec.timeout_s, [fit_msg](const peer&) { return fit_msg; }, fitted, accept,
                          {}, /*keep=*/false);
      return rp;
    },
  };
}

} // namespace

resource_report make_resource_report(std::uint32_t id, const node_context& ctx, double own_cpu_seconds,
                                     double window_seconds, double host_cpu, double host_mem) {
  resource_report r;
  r.client_id = id;
  r.host_cpu = host_cpu;
  r.host_mem = host_mem;
  r.own_cpu_seconds = own_cpu_seconds;
  r.window_seconds = window_seconds;
  r.host_cores = ctx.cores;
  const auto& part = ctx.partitions.at(id);
  auto samples = part.train.size() + part.test.size();
  // data (normalized floats + label) + model + gradients + momentum buffer
  r.own_bytes = samples * (ctx.data->train.sample_size() * sizeof(float) + sizeof(std::int64_t)) +
                3 * ctx.model.parameters * sizeof(float);
  double own_cpu = window_seconds > 0 ? 100.0 * own_cpu_seconds / (window_seconds * ctx.cores) : 0.0;
  double own_mem = 100.0 * static_cast<double>(r.own_bytes) /
                   static_cast<double>(std::max<std::uint64_t>(1, ctx.host->memory_total_bytes()));
  const auto& profile = id < ctx.profiles.size() ? ctx.profiles[id] : client_profile{};
  r.profiled = profile.active;
  r.cpu = (profile.active ? profile.cpu : host_cpu) + own_cpu;
  r.mem = (profile.active ? profile.mem : host_mem) + own_mem;
  return r;
}

caf::behavior client(client_actor* self, std::uint32_t id, std::shared_ptr<const node_context> ctx,
                     caf::actor pool) {
  self->state.id = id;
  self->state.ctx = std::move(ctx);
  self->state.pool = std::move(pool);
  self->set_down_handler([=](caf::down_msg& dm) { self->state.watch.down(dm.source, self->system().render(dm.reason)); });
  return client_handlers(self).or_else(caf::message_handler{
    [=](promote_atom, const cluster_spec& spec, const weight_blob& model) {
      self->state.role = server_role{spec, model};
      self->state.cluster = spec.cluster;
      self->state.server = caf::actor_cast<caf::actor>(self);
      // Promotion in place: this same actor now also aggregates its cluster.
      self->become(server_handlers(self).or_else(client_handlers(self)));
      return self->state.id;
    },
  });
}

} // namespace flotilla::actors
