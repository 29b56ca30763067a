#include "actors/trainer_pool.hpp"

#include <algorithm>
#include <deque>
#include <numeric>
#include <utility>
#include <functional>

#include "actors/protocol.hpp"
#include "model/trainer.hpp"

namespace flotilla::actors {

namespace {

caf::error job_error(const std::exception& e) {
  return caf::make_error(caf::sec::runtime_error, std::string{e.what()});
}

struct worker_state {
  std::unique_ptr<model::trainer> trainer;
};

// Runs on its own thread (detached): may block for the length of one training.
caf::behavior worker(caf::stateful_actor<worker_state>* self, std::shared_ptr<const node_context> ctx) {
  self->state.trainer = std::make_unique<model::trainer>(ctx->model.name);
  return {
    [=](fit_atom, std::uint32_t client, std::uint32_t round, const weight_blob& w) -> caf::result<fit_result> {
      if (client >= ctx->partitions.size())
        return caf::make_error(caf::sec::invalid_argument, "no client " + std::to_string(client) + " on this node");
      const auto& part = ctx->partitions[client];
      try {
        auto out = self->state.trainer->fit(w.values(), ctx->data->train, part.train, ctx->pixel_map(client), {},
                                            ctx->train, training_seed(ctx->seed, client, round));
        fit_result r;
        r.client_id = client;
        r.round = round;
        r.samples = part.train.size();
        r.train_loss = out.metrics.loss;
        r.seconds = out.metrics.seconds;
        r.cpu_seconds = out.metrics.cpu_seconds;
        r.weights = weight_blob{ctx->model.layout, std::move(out.weights)};
        return r;
      } catch (const std::exception& e) {
        return job_error(e);
      }
    },
    // A slice [begin, end) of the test set: the pool splits a test-set evaluation over workers.
    [=](evaluate_atom, std::uint32_t begin, std::uint32_t end, const weight_blob& w) -> caf::result<eval_result> {
      try {
        std::vector<std::uint32_t> idx(end - begin);
        std::iota(idx.begin(), idx.end(), begin);
        auto m = self->state.trainer->evaluate(w.values(), ctx->data->test, idx, {}, {});
        return eval_result{begin, m.samples, m.loss, m.accuracy}; // the slice's start, for ordering
      } catch (const std::exception& e) {
        return job_error(e);
      }
    },
    [=](evaluate_atom, std::uint32_t client, const weight_blob& w) -> caf::result<eval_result> {
      try {
        model::eval_metrics m;
        if (client == test_set) {
          m = self->state.trainer->evaluate(w.values(), ctx->data->test, {}, {}, {});
        } else if (client < ctx->partitions.size()) {
          m = self->state.trainer->evaluate(w.values(), ctx->data->train, ctx->partitions[client].test,
                                            ctx->pixel_map(client), {});
        } else {
          return caf::make_error(caf::sec::invalid_argument, "no client " + std::to_string(client) + " on this node");
        }
        return eval_result{client, m.samples, m.loss, m.accuracy};
      } catch (const std::exception& e) {
        return job_error(e);
      }
    },
  };
}

struct pool_state {
  std::size_t workers = 0;
  std::size_t test_count = 0;
  std::vector<caf::actor> idle;
  std::deque<std::function<void(caf::actor)>> queue; // each job: send to a worker, deliver
};

using pool_actor = caf::stateful_actor<pool_state>;

// Hands queued jobs to idle workers.
void pump(pool_actor* self) {
  auto& st = self->state;
  while (!st.idle.empty() && !st.queue.empty()) {
    auto w = st.idle.back();
    st.idle.pop_back();
    auto job = std::move(st.queue.front());
    st.queue.pop_front();
    job(w);
  }
}

// Queues one request for the next idle worker; `done` gets the answer, and the worker goes
// back to the idle list.
template <class Result, class... Ts>
void enqueue(pool_actor* self, std::function<void(caf::expected<Result>)> done, Ts... xs) {
  self->state.queue.emplace_back([self, done, xs...](caf::actor w) {
    auto release = [self, w] {
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
  auto parts = std::make_shared<std::vector<eval_result>>();
  auto failed = std::make_shared<bool>(false);
  for (std::uint32_t i = 0; i < n; ++i) {
    auto begin = static_cast<std::uint32_t>(total * i / n), end = static_cast<std::uint32_t>(total * (i + 1) / n);
    auto combine = [rp, parts, failed, n](caf::expected<eval_result> r) mutable {
      if (!r) {
        if (!std::exchange(*failed, true))
          rp.deliver(r.error());
        return;
      }
      parts->push_back(*r);
      if (parts->size() < n || *failed)
        return;
      std::sort(parts->begin(), parts->end(),
                [](const eval_result& x, const eval_result& y) { return x.client_id < y.client_id; });
      eval_result sum{test_set, 0, 0, 0};
      for (const auto& p : *parts) {
        sum.samples += p.samples;
        sum.loss += p.loss * static_cast<double>(p.samples);
        sum.accuracy += p.accuracy * static_cast<double>(p.samples);
      }
      sum.loss /= static_cast<double>(std::max<std::uint64_t>(1, sum.samples));
      sum.accuracy /= static_cast<double>(std::max<std::uint64_t>(1, sum.samples));
      rp.deliver(sum);
    };
    enqueue<eval_result>(self, combine, evaluate_atom::value, begin, end, w);
  }
}

caf::behavior dispatcher(pool_actor* self, std::vector<caf::actor> workers, std::size_t test_count) {
  for (auto& w : workers)
    self->link_to(w); // workers end with the pool
  self->state.workers = workers.size();
  self->state.test_count = test_count;
  self->state.idle = std::move(workers);
  return {
    [=](fit_atom a, std::uint32_t client, std::uint32_t round, const weight_blob& w) {
      auto rp = self->make_response_promise<fit_result>();
      enqueue<fit_result>(self, deliver_to(rp), a, client, round, w);
      return rp;
    },
    [=](evaluate_atom a, std::uint32_t client, const weight_blob& w) {
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

std::uint64_t training_seed(std::uint64_t run_seed, std::uint32_t client, std::uint32_t round) {
  // SplitMix64 over (seed, client, round): independent streams per client and round.
  std::uint64_t z = run_seed ^ (std::uint64_t{client} << 32 | round);
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

caf::actor spawn_trainer_pool(caf::actor_system& sys, std::shared_ptr<const node_context> ctx,
                              std::uint32_t trainers) {
  std::vector<caf::actor> workers;
  for (std::uint32_t i = 0; i < std::max(1u, trainers); ++i)
    workers.push_back(sys.spawn<caf::detached>(worker, ctx));
  return sys.spawn(dispatcher, std::move(workers), ctx->data->test.count);
}

} // namespace flotilla::actors
