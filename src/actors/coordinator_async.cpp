// The initial phase under strategy.mode=buffered (FedBuff) or async (FedAsync): up to
// strategy.concurrency clients train at once on the version they were sent. Under clock=virtual
// their fits are taken in (simulated completion, client id) order (fl/async_aggregation.hpp), so
// the run is deterministic while the pool trains in parallel; under clock=wall in the order their
// results arrive (not deterministic). Every server step is a model version, a
// metrics line and an evaluation; rounds.initial counts them, the last one being the usual
// synchronous round that asks every client (clustering needs every client's weights).
#include "actors/coordinator_phases.hpp"

#include <algorithm>
#include <cmath>
#include <deque>

#include "actors/blob_transfer.hpp"
#include "fl/async_aggregation.hpp"
#include "fl/layer_history.hpp"
#include "fl/round_updates.hpp"

namespace flotilla::actors {

/// What an asynchronous initial phase holds between events.
struct async_run {
  fl::in_flight flights;
  std::map<std::uint32_t, fit_result> arrived;
  std::map<std::uint32_t, std::string> failed;
  std::deque<std::uint32_t> arrivals; ///< clock=wall: clients whose result (or failure) came, in that order
  std::map<std::uint64_t, weight_blob> versions; ///< the models fits in flight were sent
  std::uint64_t version = 0;                     ///< server steps so far
  std::uint64_t last = 0;                        ///< the step that ends the asynchronous part
  std::uint64_t draws = 0;
  double now = 0;
  bool evaluating = false, over = false;
  struct buffered {
    std::uint32_t client;
    std::uint64_t samples;
    double loss;
    std::uint32_t staleness;
    std::vector<float> delta; ///< the trained weights less the version it was sent
  };
  std::vector<buffered> buffer;
  // Since the last step: for its metrics line.
  std::uint32_t asked = 0;
  std::vector<std::uint32_t> failed_ids;
  std::vector<std::string> failure_reasons;
  std::uint32_t dropped_stale = 0;
  std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point saved = std::chrono::steady_clock::now(); ///< the last checkpoint
};

namespace phases {

namespace {

void pump(coordinator_actor* self);

// Sends `id` the model of `version` to train; its result (or failure) comes back to pump.
void send_fit(coordinator_actor* self, std::uint32_t id, std::uint64_t version) {
  auto& st = self->state;
  auto& a = *st.async;
  const auto& ex = st.opt.experiment;
  if (!st.clients[id].handle) { // a resume whose node with this client has not come back
    a.failed[id] = "its node is not connected";
    a.arrivals.push_back(id);
    return;
  }
  fit_ins in{fl::fit_config{static_cast<std::uint32_t>(version + 1), ex.rounds.epochs, 0, 0}, a.versions.at(version),
             fl::layer_step("initial", static_cast<std::uint32_t>(version + 1)), st.durable_step};
  self->request(st.clients[id].handle, deadline(ex.rounds.timeout_s), fit_atom::value, std::move(in))
    .then(
      [self, id](fit_result& r) {
        auto& st = self->state;
        // Weights from another process may be a reference: fetched before they count.
        fetch_blob(self, r.weights, st.opt.model.parameters, [self, id, r](std::string error, weight_blob w) mutable {
          auto& a = *self->state.async;
          if (!error.empty())
            a.failed[id] = "its update could not be fetched: " + error;
          else {
            r.weights = std::move(w);
            a.arrived[id] = std::move(r);
          }
          a.arrivals.push_back(id);
          pump(self);
        });
      },
      [self, id](caf::error& err) {
        auto& a = *self->state.async;
        a.failed[id] = text_of(self->system(), err);
        a.arrivals.push_back(id);
        pump(self);
      });
}

// Fills the free places at `now` with clients drawn among those idle and, under the virtual
// clock, online and able to finish within rounds.timeout_s.
void fill(coordinator_actor* self) {
  auto& st = self->state;
  auto& a = *st.async;
  const auto& ex = st.opt.experiment;
  const auto* clock = st.opt.clock.get(); // null: the wall clock
  std::vector<std::uint32_t> candidates;
  for (std::uint32_t id = 0; id < ex.clients; ++id)
    if (st.clients[id].handle && !a.flights.busy(id) && !st.lost_early.count(id) &&
        (!clock || clock->online(id, a.now)))
      candidates.push_back(id);
  while (a.flights.size() < ex.async.concurrency && !candidates.empty()) {
    auto id = *fl::pick_client(candidates, ex.seed, a.version, a.draws++);
    candidates.erase(std::find(candidates.begin(), candidates.end(), id));
    auto done = clock ? a.now + clock->fit_seconds(id, ex.rounds.epochs) : a.now; // wall: when it was sent
    if (clock && (done - a.now > ex.rounds.sim_deadline_s || clock->period_of(id, a.now).end <= done))
      continue; // it could not deliver: too slow for the deadline, or it goes offline first
    a.flights.add({id, a.version, done});
    a.versions.emplace(a.version, st.global);
    ++a.asked;
    send_fit(self, id, a.version);
  }
}

// One server step from the buffer (FedBuff): each update's delta on the current model,
// weighted by its samples and its staleness, through the configured server strategy.
std::string buffered_step(coordinator_actor* self) {
  auto& st = self->state;
  auto& a = *st.async;
  auto current = st.global.values();
  fl::round_updates updates(current.size(), st.strategy->keeps_updates());
  // A fast client may be in the buffer twice (FedBuff allows it): each entry is its own update.
  std::uint32_t entry = 0;
  for (auto& b : a.buffer) {
    auto w = std::make_shared<std::vector<float>>(current);
    for (std::size_t i = 0; i < w->size(); ++i)
      (*w)[i] += b.delta[i];
    auto weight = fl::buffered_weight(b.samples, fl::staleness_weight(st.opt.experiment.async, b.staleness));
    if (auto why = updates.accept({entry++, weight, b.loss, std::move(w)}); !why.empty())
      return "client " + std::to_string(b.client) + ": " + why;
  }
  if (auto why = st.strategy->cannot_aggregate(updates); !why.empty())
    return why;
  if (!updates.keeps())
    updates.finalize();
  st.global = weight_blob{st.opt.model.layout,
                          st.strategy->aggregate_fit(static_cast<std::uint32_t>(a.version + 1), current, updates, {})};
  return {};
}

// The step's metrics line and evaluation; then the phase goes on, or hands over to its last round.
void step_done(coordinator_actor* self, std::vector<std::uint32_t> staleness, std::uint64_t samples, double loss) {
  auto& st = self->state;
  auto& a = *st.async;
  ++a.version;
  a.evaluating = true;
  fl::round_record rec;
  rec.phase = "initial";
  rec.round = static_cast<std::uint32_t>(a.version);
  rec.asked = a.asked;
  rec.clients = static_cast<std::uint32_t>(staleness.size());
  rec.failed = a.failed_ids;
  rec.failure_reasons = a.failure_reasons;
  rec.failures = static_cast<std::uint32_t>(a.failed_ids.size());
  rec.aggregated = true;
  rec.samples = samples;
  rec.train_loss = loss;
  rec.sim_time_s = a.now;
  rec.staleness_max = staleness.empty() ? 0 : *std::max_element(staleness.begin(), staleness.end());
  double sum = 0;
  for (auto s : staleness)
    sum += s;
  rec.staleness_mean = staleness.empty() ? 0 : sum / static_cast<double>(staleness.size());
  rec.dropped_stale = a.dropped_stale;
  rec.staleness = staleness;
  a.asked = 0;
  a.failed_ids.clear();
  a.failure_reasons.clear();
  a.dropped_stale = 0;
  auto started = std::exchange(a.since, std::chrono::steady_clock::now());
  auto evaluate = [self](std::function<void(eval_summary)> cb) {
    auto& st = self->state;
    if (!st.opt.experiment.rounds.evaluates(st.async->version, st.async->last))
      return cb(eval_summary{{}, 0, fl::not_evaluated, fl::not_evaluated});
    evaluate_on_test_set(self, st.global, std::move(cb));
  };
  evaluate([self, rec, started](eval_summary e) mutable {
        if (!e.error.empty())
          return fail_run(self, errc::round_failed, "evaluating the global model failed: " + e.error);
        auto& st = self->state;
        auto& a = *st.async;
        auto& rep = *st.report;
        rec.test_accuracy = e.accuracy;
        rec.test_loss = e.loss;
        rec.evaluated = e.samples;
        rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        rep.sim_time_s = a.now;
        rep.samples_trained += rec.samples * st.opt.epochs;
        rep.samples_evaluated += rec.evaluated;
        rep.bytes_moved += (rec.asked + rec.clients) * st.opt.model.parameters * sizeof(float);
        rep.rounds.push_back(rec);
        st.observer->on_round(rec);
        const auto& ex = st.opt.experiment;
        bool reached = ex.rounds.target_accuracy > 0 && rec.test_accuracy >= ex.rounds.target_accuracy;
        if (reached && rep.rounds_to_target < 0) {
          rep.rounds_to_target = rec.round;
          rep.sim_time_to_target_s = rec.sim_time_s;
        }
        a.evaluating = false;
        bool stop = reached && ex.rounds.stop_at_target;
        // Fits still in flight after the last step are not waited for: their versions are past.
        a.over = a.version >= a.last || stop;
        // An evaluated step may be a checkpoint (with the fits in flight, sent again on resume),
        // at most one per runtime.async_checkpoint_s: it holds up to concurrency models.
        auto now = std::chrono::steady_clock::now();
        if (!stop && rec.evaluated > 0 &&
            (a.over || std::chrono::duration<double>(now - a.saved).count() >= st.opt.async_checkpoint_s)) {
          a.saved = now;
          save_checkpoint(self, "initial", static_cast<std::uint32_t>(a.version));
        }
        // The round that ends the phase (asking every client: clustering needs their weights)
        // starts at the step's simulated time.
        if (a.over)
          return self->send(self, next_atom::value, static_cast<std::uint32_t>(a.version + 1));
        pump(self);
      });
}

// Takes the fits in completion order as far as their results are here.
void pump(coordinator_actor* self) {
  auto& st = self->state;
  auto& a = *st.async;
  const auto& o = st.opt.experiment.async;
  const bool wall = !st.opt.clock;
  while (!a.evaluating && !a.over) {
    if (a.flights.size() == 0) {
      fill(self);
      if (a.flights.size() == 0)
        return fail_run(self, errc::round_failed, "no client can train: every one is offline, lost or too slow for "
                                                  "rounds.timeout_s at second " + std::to_string(a.now));
      continue;
    }
    // Virtual clock: the fit that completes first in simulated time, once its real result is
    // here (the order waits for it). Wall clock: the fit whose result arrived first.
    std::optional<fl::in_flight::fit> next;
    if (wall) {
      if (a.arrivals.empty())
        return;
      next = a.flights.of(a.arrivals.front());
      a.arrivals.pop_front();
    } else {
      next = a.flights.earliest();
    }
    auto id = next->client;
    bool failed = a.failed.count(id) > 0;
    if (!failed && !a.arrived.count(id))
      return;
    a.flights.remove(id);
    a.now = wall ? run_clock(self, 0) : next->done;
    auto sent = a.versions.at(next->version);
    if (auto oldest = a.flights.oldest_version())
      a.versions.erase(a.versions.begin(), a.versions.lower_bound(std::min(*oldest, a.version)));
    else
      a.versions.erase(a.versions.begin(), a.versions.lower_bound(a.version));
    fill(self); // its place goes to another client at once
    if (failed) {
      a.failed_ids.push_back(id);
      a.failure_reasons.push_back(std::exchange(a.failed[id], {}));
      a.failed.erase(id);
      continue;
    }
    auto r = std::move(a.arrived[id]);
    a.arrived.erase(id);
    auto staleness = static_cast<std::uint32_t>(a.version - next->version);
    if (o.max_staleness > 0 && staleness > o.max_staleness) {
      ++a.dropped_stale;
      continue;
    }
    const auto& trained = r.weights.values();
    const auto& start = sent.values();
    if (trained.size() != start.size() || std::any_of(trained.begin(), trained.end(), [](float v) { return !std::isfinite(v); })) {
      a.failed_ids.push_back(id);
      a.failure_reasons.push_back("update refused: wrong size or a non-finite weight");
      continue;
    }
    st.samples_of[id] = r.samples;
    if (o.mode == "async") {
      // FedAsync: the trained model mixed in at once, by alpha times its staleness weight.
      auto mix = o.alpha * fl::staleness_weight(o, staleness);
      auto current = st.global.values();
      for (std::size_t i = 0; i < current.size(); ++i)
        current[i] += static_cast<float>(mix) * (trained[i] - current[i]);
      st.global = weight_blob{st.opt.model.layout, std::move(current)};
      step_done(self, {staleness}, r.samples, r.train_loss);
      continue;
    }
    async_run::buffered b{id, r.samples, r.train_loss, staleness, std::vector<float>(trained.size())};
    for (std::size_t i = 0; i < trained.size(); ++i)
      b.delta[i] = trained[i] - start[i];
    a.buffer.push_back(std::move(b));
    if (a.buffer.size() < o.buffer)
      continue;
    if (auto why = buffered_step(self); !why.empty())
      return fail_run(self, errc::round_failed, "server step " + std::to_string(a.version + 1) + ": " + why);
    std::vector<std::uint32_t> stale;
    std::uint64_t samples = 0;
    double loss = 0;
    for (const auto& x : a.buffer) {
      stale.push_back(x.staleness);
      samples += x.samples;
      loss += x.loss * static_cast<double>(x.samples);
    }
    a.buffer.clear();
    step_done(self, stale, samples, samples > 0 ? loss / static_cast<double>(samples) : 0.0);
  }
}

} // namespace

void async_initial_steps(coordinator_actor* self) {
  auto& st = self->state;
  st.async = std::make_shared<async_run>();
  auto& a = *st.async;
  a.now = st.report->sim_time_s;
  a.last = st.opt.experiment.rounds.initial - 1;
  st.observer->on_phase("initial", std::to_string(a.last) + " server steps, " + st.opt.experiment.async.mode +
                                     " (concurrency " + std::to_string(st.opt.experiment.async.concurrency) +
                                     "), then a round asking every client");
  pump(self);
}

bool async_steps_over(coordinator_actor* self) {
  return self->state.async && self->state.async->over;
}

std::optional<std::uint64_t> async_flights(coordinator_actor* self, fl::checkpoint& cp) {
  auto& st = self->state;
  if (!st.async || st.async->over)
    return std::nullopt;
  auto& a = *st.async;
  cp.draws = a.draws;
  cp.flights = a.flights.all();
  for (const auto& f : cp.flights)
    cp.versions.emplace(f.version, a.versions.at(f.version).values());
  return a.flights.oldest_version();
}

void keep_async_flights(coordinator_actor* self, const fl::checkpoint& cp) {
  auto& st = self->state;
  const auto& ex = st.opt.experiment;
  if (cp.phase != "initial" || !ex.async.asynchronous() || cp.round + 1 >= ex.rounds.initial)
    return;
  st.async = std::make_shared<async_run>();
  auto& a = *st.async;
  a.draws = cp.draws;
  for (const auto& [v, w] : cp.versions)
    a.versions.emplace(v, weight_blob{st.opt.model.layout, w});
  for (const auto& f : cp.flights)
    a.flights.add(f);
}

void resume_async_steps(coordinator_actor* self, std::uint64_t step) {
  auto& st = self->state;
  if (!st.async)
    st.async = std::make_shared<async_run>();
  auto& a = *st.async;
  a.version = step;
  a.now = st.report->sim_time_s;
  a.last = st.opt.experiment.rounds.initial - 1;
  st.observer->on_phase("initial", "server steps " + std::to_string(step + 1) + " to " + std::to_string(a.last) +
                                     ", " + st.opt.experiment.async.mode + "; " +
                                     std::to_string(a.flights.size()) + " fits in flight sent again");
  for (const auto& f : a.flights.all())
    send_fit(self, f.client, f.version);
  pump(self);
}

} // namespace phases

} // namespace flotilla::actors
