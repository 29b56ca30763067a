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
        auto out = self->state.trainer->fit(w.values(), ctx->data->train, part.train, ctx->pixel_map(client),
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
        auto m = self->state.trainer->evaluate(w.values(), ctx->data->test, idx, {});
        return eval_result{begin, m.samples, m.loss, m.accuracy}; // the slice's start, for ordering
      } catch (const std::exception& e) {
        return job_error(e);
      }
    },
    [=](evaluate_atom, std::uint32_t client, const weight_blob& w) -> caf::result<eval_result> {
      try {
        model::eval_metrics m;
        if (client == test_set) {
          m = self->state.trainer->evaluate(w.values(), ctx->data->test, {}, {});
        } else if (client < ctx->partitions.size()) {
          m = self->state.trainer->evaluate(w.values(), ctx->data->train, ctx->partitions[client].test,
                                            ctx->pixel_map(client));
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

caf::behavior dispatcher(caf::stateful_actor<pool_state>* self, std::vector<caf::actor> workers,
                         std::size_t test_count) {
  self->state.test_count = test_count;
  for (auto& w : workers)
    self->link_to(w); // workers end with the pool
  self->state.workers = workers.size();
  self->state.idle = std::move(workers);
  // Hands queued jobs to idle workers; a job returns its worker to the idle list when done.
  auto pump = std::make_shared<std::function<void()>>();
  *pump = [self] {
    auto& st = self->state;
    while (!st.idle.empty() && !st.queue.empty()) {
      auto w = st.idle.back();
      st.idle.pop_back();
      auto job = std::move(st.queue.front());
      st.queue.pop_front();
      job(w);
    }
  };
  // Builds a job that forwards one request to a worker and delivers its answer.
  auto submit = [self, pump](auto promise, auto... xs) {
    using promise_type = decltype(promise);
    self->state.queue.emplace_back([self, pump, promise, xs...](caf::actor w) mutable {
      using result_type = std::conditional_t<std::is_same<promise_type, caf::typed_response_promise<fit_result>>::value,
                                             fit_result, eval_result>;
      self->request(w, caf::infinite, xs...)
        .then(
          [self, pump, w, promise](result_type& r) mutable {
            promise.deliver(std::move(r));
            self->state.idle.push_back(w);
            (*pump)();
          },
          [self, pump, w, promise](caf::error& e) mutable {
            promise.deliver(std::move(e));
            self->state.idle.push_back(w);
            (*pump)();
          });
    });
    (*pump)();
  };
  return {
    [=](fit_atom a, std::uint32_t client, std::uint32_t round, const weight_blob& w) {
      auto rp = self->make_response_promise<fit_result>();
      submit(rp, a, client, round, w);
      return rp;
    },
    [=](evaluate_atom a, std::uint32_t client, const weight_blob& w) -> caf::result<eval_result> {
      auto rp = self->make_response_promise<eval_result>();
      if (client != test_set || self->state.workers < 2) {
        submit(rp, a, client, w);
        return rp;
      }
      // The test set is large: one slice per worker, combined weighted by samples.
      auto n = static_cast<std::uint32_t>(self->state.workers);
      auto total = static_cast<std::uint32_t>(self->state.test_count);
      auto parts = std::make_shared<std::vector<eval_result>>();
      auto failed = std::make_shared<bool>(false);
      for (std::uint32_t i = 0; i < n; ++i) {
        auto begin = static_cast<std::uint32_t>(std::uint64_t{total} * i / n);
        auto end = static_cast<std::uint32_t>(std::uint64_t{total} * (i + 1) / n);
        self->state.queue.emplace_back([self, pump, rp, parts, failed, n, a, begin, end, w](caf::actor worker) mutable {
          self->request(worker, caf::infinite, a, begin, end, w)
            .then(
              [=](eval_result& r) mutable {
                parts->push_back(r);
                if (parts->size() == n && !*failed) {
                  // Combine in slice order, so the figures do not depend on which slice ends first.
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
                }
                self->state.idle.push_back(worker);
                (*pump)();
              },
              [=](caf::error& e) mutable {
                if (!std::exchange(*failed, true))
                  rp.deliver(std::move(e));
                self->state.idle.push_back(worker);
                (*pump)();
              });
        });
      }
      (*pump)();
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
