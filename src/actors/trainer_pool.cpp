#include "actors/trainer_pool.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <numeric>
#include <utility>

#include "actors/errors.hpp"
#include "actors/exception_policy.hpp"
#include "actors/protocol.hpp"
#include "data/data_error.hpp"
#include "fl/privacy/dp_clip.hpp"
#include "fl/privacy/dp_fedavg.hpp"
#include "fl/attack.hpp"
#include "fl/seeds.hpp"
#include "model/model_error.hpp"
#include "model/trainer.hpp"

namespace flotilla::actors {

namespace {

// Exceptions of a job become errors of our category, so their class survives the trip home.
template <class F>
auto guarded(F&& job) -> decltype(job()) {
  try {
    return job();
  } catch (const model::model_error& e) {
    return make_error(errc::model_error, e.what());
  } catch (const data::data_error& e) {
    return make_error(errc::data_error, e.what());
  } catch (const std::exception& e) {
    return make_error(errc::training_failed, e.what());
  }
}

caf::error unknown(std::uint32_t client) {
  return make_error(errc::unknown_client, "no client " + std::to_string(client) + " on this node");
}

// Rows 0 .. n - 1 (the test set as data.test_limit cuts it).
std::vector<std::uint32_t> first_rows(std::size_t n) {
  std::vector<std::uint32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0u);
  return idx;
}

struct worker_state {
  std::unique_ptr<model::trainer> trainer;
};

// Runs on its own thread (detached): may block for the length of one training.
trainer_worker_handle::behavior_type worker(trainer_worker_handle::stateful_pointer<worker_state> self,
                                            std::shared_ptr<const node_context> ctx) {
  // A job's exceptions become answers (guarded); one that escapes ends the worker, and through
  // its link the pool, with the error's class.
  end_on_exception(self, "flotilla.trainer");
  self->state.trainer = std::make_unique<model::trainer>(ctx->model_choice);
  return {
    [=](train_atom, std::uint32_t client, const fit_ins& in) -> caf::result<fit_result> {
      if (client >= ctx->partitions().size())
        return unknown(client);
      return guarded([&]() -> caf::result<fit_result> {
        const auto& part = ctx->partitions()[client];
        // The round's values (epochs, lr, the strategy's client-side knobs) over the client's own.
        auto options = model::with_fit_values(ctx->train, in.config.values);
        auto seed = fl::training_seed(ctx->seed, client, in.config.round);
        auto out = self->state.trainer->fit(in.weights.values(), ctx->data->train, part.train_rows(), ctx->pixel_map(client),
                                            ctx->training_labels(client), options, seed);
        // privacy.dp: the update leaves the client clipped to its L2 norm bound: this node's
        // privacy.clip, or under privacy.adaptive_clip the round's (within privacy.clip's range,
        // whatever an aggregator sends).
        bool within = false;
        auto clip = ctx->dp_clip;
        if (ctx->dp_adaptive && in.dp_clip > 0)
          clip = std::clamp(in.dp_clip, fl::privacy::min_clip, fl::privacy::max_clip);
        if (clip > 0)
          out.weights = fl::privacy::clipped_update(in.weights.values(), std::move(out.weights), clip, within);
        if (ctx->attacker(client))
          out.weights = fl::poison(ctx->attack, in.weights.values(), std::move(out.weights), fl::splitmix64(seed));
        fit_result r;
        r.client_id = client;
        r.round = in.config.round;
        r.samples = part.train_size();
        r.train_loss = out.metrics.loss;
        r.seconds = out.metrics.seconds;
        r.cpu_seconds = out.metrics.cpu_seconds;
        r.weights = weight_blob{ctx->model.layout, std::move(out.weights)};
        r.within_clip = in.report_clip && within;
        return r;
      });
    },
    // IFCA: the loss of each model on the client's own training data (its labels as it sees them).
    [=](score_atom, std::uint32_t client, const std::vector<weight_blob>& models) -> caf::result<std::vector<double>> {
      if (client >= ctx->partitions().size())
        return unknown(client);
      return guarded([&]() -> caf::result<std::vector<double>> {
        const auto& part = ctx->partitions()[client];
        const auto rows = part.train_rows();
        std::vector<double> losses;
        for (const auto& m : models)
          losses.push_back(self->state.trainer
                             ->evaluate(m.values(), ctx->data->train, rows, ctx->pixel_map(client), part.label_map)
                             .loss);
        return losses;
      });
    },
    // A slice [begin, end) of the test set: the pool splits a test-set evaluation over workers.
    [=](slice_atom, std::uint32_t begin, std::uint32_t end, const weight_blob& w) -> caf::result<eval_result> {
      return guarded([&]() -> caf::result<eval_result> {
        std::vector<std::uint32_t> idx(end - begin);
        std::iota(idx.begin(), idx.end(), begin);
        auto m = self->state.trainer->evaluate(w.values(), ctx->data->test, idx, {}, {});
        return eval_result{test_set, m.samples, m.loss, m.accuracy};
      });
    },
    [=](assess_atom, std::uint32_t client, const weight_blob& w) -> caf::result<eval_result> {
      if (client != test_set && client >= ctx->partitions().size())
        return unknown(client);
      // A client without local test rows (a natural client of a single sample) has nothing to
      // score: an empty index list would mean the whole split.
      if (client != test_set && ctx->partitions()[client].test_size() == 0)
        return eval_result{client, 0, 0, 0};
      return guarded([&]() -> caf::result<eval_result> {
        auto m = client == test_set ? self->state.trainer->evaluate(w.values(), ctx->data->test,
                                                                    first_rows(ctx->global_test_rows), {}, {})
                                    : self->state.trainer->evaluate(w.values(),
                                                                    ctx->partitions()[client].test_in_test_split
                                                                      ? ctx->data->test
                                                                      : ctx->data->train,
                                                                    ctx->partitions()[client].test_rows(), ctx->pixel_map(client),
                                                                    ctx->partitions()[client].label_map);
        return eval_result{client, m.samples, m.loss, m.accuracy};
      });
    },
  };
}

struct pool_state {
  std::size_t workers = 0;
  std::size_t test_count = 0;
  /// Free job slots: two per worker, so the next job waits in a worker's mailbox and the worker
  /// does not sit idle while its answer travels to the pool and the pool's next job back (a round
  /// of a thousand small fits would lose that latency a thousand times).
  std::vector<trainer_worker_handle> idle;
  std::map<caf::actor_addr, std::size_t> busy; ///< jobs in flight per worker
  std::deque<std::function<void(trainer_worker_handle)>> queue; // each job: send to a worker, deliver
};

using pool_actor = trainer_pool_handle::stateful_base<pool_state>;

// Hands queued jobs to idle workers.
void pump(pool_actor* self) {
  auto& st = self->state;
  while (!st.idle.empty() && !st.queue.empty()) {
    // The least busy worker's slot: the test set's slices (one per worker) go to different
    // workers, and so do the first jobs of a round.
    auto it = std::min_element(st.idle.begin(), st.idle.end(), [&](const auto& a, const auto& b) {
      return st.busy[a.address()] < st.busy[b.address()];
    });
    auto w = *it;
    st.idle.erase(it);
    ++st.busy[w.address()];
    auto job = std::move(st.queue.front());
    st.queue.pop_front();
    job(w);
  }
}

// Queues one request for the next idle worker; `done` gets the answer, and the worker goes
// back to the idle list.
template <class Result, class... Ts>
void enqueue(pool_actor* self, std::function<void(caf::expected<Result>)> done, Ts... xs) {
  self->state.queue.emplace_back([self, done, xs...](trainer_worker_handle w) {
    auto release = [self, w] {
      --self->state.busy[w.address()];
      self->state.idle.push_back(w);
      pump(self);
    };
    self->request(w, caf::infinite, xs...)
      .then(
        [done, release](Result& r) {
          done(std::move(r));
          release();
        },
        [done, release](caf::error& e) {
          done(std::move(e));
          release();
        });
  });
  pump(self);
}

template <class Result>
std::function<void(caf::expected<Result>)> deliver_to(caf::typed_response_promise<Result> rp) {
  return [rp](caf::expected<Result> r) mutable {
    if (r)
      rp.deliver(std::move(*r));
    else
      rp.deliver(r.error());
  };
}

// Evaluates the test set as one slice per worker, combined in slice order (so the figures do
// not depend on which slice ends first).
void evaluate_test_set(pool_actor* self, caf::typed_response_promise<eval_result> rp, const weight_blob& w) {
  auto n = static_cast<std::uint32_t>(self->state.workers);
  auto total = static_cast<std::uint64_t>(self->state.test_count);
  auto parts = std::make_shared<std::vector<std::optional<eval_result>>>(n);
  auto left = std::make_shared<std::uint32_t>(n);
  auto failed = std::make_shared<bool>(false);
  for (std::uint32_t i = 0; i < n; ++i) {
    auto begin = static_cast<std::uint32_t>(total * i / n), end = static_cast<std::uint32_t>(total * (i + 1) / n);
    auto combine = [rp, parts, left, failed, i](caf::expected<eval_result> r) mutable {
      if (!r) {
        if (!std::exchange(*failed, true))
          rp.deliver(r.error());
        return;
      }
      (*parts)[i] = *r;
      if (--*left > 0 || *failed)
        return;
      eval_result sum{test_set, 0, 0, 0};
      for (const auto& p : *parts) {
        sum.samples += p->samples;
        sum.loss += p->loss * static_cast<double>(p->samples);
        sum.accuracy += p->accuracy * static_cast<double>(p->samples);
      }
      sum.loss /= static_cast<double>(std::max<std::uint64_t>(1, sum.samples));
      sum.accuracy /= static_cast<double>(std::max<std::uint64_t>(1, sum.samples));
      rp.deliver(sum);
    };
    enqueue<eval_result>(self, combine, slice_atom::value, begin, end, w);
  }
}

trainer_pool_handle::behavior_type dispatcher(pool_actor* self, std::vector<trainer_worker_handle> workers,
                                              std::size_t test_count) {
  self->set_default_handler(drop_unexpected);
  end_on_exception(self, "flotilla.trainer_pool");
  for (auto& w : workers)
    self->link_to(w); // workers end with the pool
  self->state.workers = workers.size();
  self->state.test_count = test_count;
  for (int slot = 0; slot < 2; ++slot)
    for (const auto& w : workers)
      self->state.idle.push_back(w);
  return {
    [=](train_atom a, std::uint32_t client, const fit_ins& in) {
      auto rp = self->make_response_promise<fit_result>();
      enqueue<fit_result>(self, deliver_to(rp), a, client, in);
      return rp;
    },
    [=](score_atom a, std::uint32_t client, const std::vector<weight_blob>& models) {
      auto rp = self->make_response_promise<std::vector<double>>();
      enqueue<std::vector<double>>(self, deliver_to(rp), a, client, models);
      return rp;
    },
    [=](assess_atom a, std::uint32_t client, const weight_blob& w) {
      auto rp = self->make_response_promise<eval_result>();
      if (client == test_set && self->state.workers > 1)
        evaluate_test_set(self, rp, w); // the largest evaluation: split it over the workers
      else
        enqueue<eval_result>(self, deliver_to(rp), a, client, w);
      return rp;
    },
  };
}

} // namespace

trainer_pool_handle spawn_trainer_pool(caf::actor_system& sys, std::shared_ptr<const node_context> ctx,
                                       std::uint32_t trainers) {
  std::vector<trainer_worker_handle> workers;
  for (std::uint32_t i = 0; i < std::max(1u, trainers); ++i)
    workers.push_back(sys.spawn<caf::detached>(worker, ctx));
  return sys.spawn(dispatcher, std::move(workers), ctx->global_test_rows);
}

} // namespace flotilla::actors
