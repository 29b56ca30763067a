// The initial phase under strategy.mode=buffered (FedBuff) or async (FedAsync): the coordinator's
// server steps through the asynchronous engine (actors/async_steps.hpp), the same one every
// promoted cluster server runs. Every server step is a model version and a metrics line,
// evaluated as rounds.eval_every says; rounds.initial counts them, the last one being the usual
// synchronous round that asks every client (clustering needs every client's weights).
#include "actors/coordinator_phases.hpp"

#include "actors/async_steps.hpp"
#include "fl/secagg/model_registry.hpp"

namespace flotilla::actors {

/// What an asynchronous initial phase holds between events.
struct async_run {
  std::shared_ptr<async_steps> steps;
  std::uint64_t last = 0;     ///< the step that ends the asynchronous part
  bool over = false;
  std::optional<async_position> resume_from; ///< a resume's position, until the steps start
  std::chrono::steady_clock::time_point saved = std::chrono::steady_clock::now(); ///< the last checkpoint
};

namespace phases {

namespace {

// Who may be sent a fit: the clients present from the start, less those lost early.
std::vector<peer> trainers(coordinator_actor* self) {
  auto& st = self->state;
  std::vector<peer> out;
  for (std::uint32_t id = 0; id < st.opt.experiment.clients; ++id)
    if (!st.lost_early.count(id))
      out.push_back(st.clients[id]);
  return out;
}

void step(coordinator_actor* self);

// After a step: its evaluation and metrics line, a checkpoint now and then; then the next step,
// or the round that ends the phase.
void step_done(coordinator_actor* self, fl::round_record rec) {
  auto& st = self->state;
  auto& a = *st.async;
  st.global = a.steps->model();
  auto started = std::chrono::steady_clock::now();
  auto evaluate = [self](std::function<void(eval_summary)> cb) {
    auto& st = self->state;
    if (!st.opt.experiment.rounds.evaluates(st.async->steps->version(), st.async->last))
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
    rec.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    rep.sim_time_s = rec.sim_time_s;
    rep.samples_trained += rec.samples * st.opt.epochs;
    rep.samples_evaluated += rec.evaluated;
    rep.bytes_moved += (rec.asked + rec.clients) * st.opt.model.parameters * sizeof(float);
    rep.rounds.push_back(rec);
    st.observer->on_round(rec);
    if (!rec.aggregated)
      st.observer->on_warning("initial step " + std::to_string(rec.round) + ": " + rec.not_aggregated +
                              "; the global model is kept");
    const auto& ex = st.opt.experiment;
    bool reached = ex.rounds.target_accuracy > 0 && rec.test_accuracy >= ex.rounds.target_accuracy;
    if (reached && rep.rounds_to_target < 0) {
      rep.rounds_to_target = rec.round;
      rep.sim_time_to_target_s = rec.sim_time_s;
    }
    bool stop = reached && ex.rounds.stop_at_target;
    // Fits still in flight after the last step are not waited for: their versions are past.
    a.over = a.steps->version() >= a.last || stop;
    // An evaluated step may be a checkpoint (with the fits in flight, sent again on resume),
    // at most one per runtime.async_checkpoint_s: it holds up to concurrency models.
    auto now = std::chrono::steady_clock::now();
    if (!stop && rec.evaluated > 0 &&
        (a.over || std::chrono::duration<double>(now - a.saved).count() >= st.opt.async_checkpoint_s)) {
      a.saved = now;
      save_checkpoint(self, "initial", static_cast<std::uint32_t>(a.steps->version()));
    }
    if (a.over) {
      a.steps->stop();
      // The round that ends the phase (asking every client: clustering needs their weights)
      // starts at the step's time.
      return self->send(self, next_atom::value, static_cast<std::uint32_t>(a.steps->version() + 1));
    }
    step(self);
  });
}

void step(coordinator_actor* self) {
  auto& st = self->state;
  st.async->steps->next(trainers(self), st.durable_step, [self](async_step s) {
    if (!s.error.empty())
      return fail_run(self, s.repeats ? errc::config_error : errc::round_failed, s.error);
    step_done(self, std::move(s.record));
  });
}

void start(coordinator_actor* self, async_position from) {
  auto& st = self->state;
  const auto& ex = st.opt.experiment;
  if (!st.async)
    st.async = std::make_shared<async_run>();
  auto& a = *st.async;
  a.last = ex.rounds.initial - 1;
  async_setup setup;
  setup.header.phase = "initial";
  setup.options = ex.async;
  setup.seed = ex.seed;
  setup.epochs = ex.rounds.epochs;
  setup.timeout_s = ex.rounds.timeout_s;
  setup.parameters = st.opt.model.parameters;
  if (st.opt.clock)
    setup.sim = virtual_round{0, st.opt.clock, -1, ex.rounds.sim_deadline_s};
  setup.wall_now = [self] { return run_clock(self, 0); };
  setup.on_update = [self](const fit_result& r) { self->state.samples_of[r.client_id] = r.samples; };
  if (ex.privacy.secure_aggregation) {
    // FedBuff under secure aggregation: each version a fit goes out at is registered, each full
    // buffer summed under masks (the last round, which feeds clustering, runs in the clear).
    setup.secure = secure_setup{true, -1, ex.privacy.min_cluster, ex.seed, {}};
    setup.register_version = [registrar = st.opt.registrar, seed = ex.seed](std::uint64_t version,
                                                                           const std::vector<float>& model) {
      fl::round_record header;
      header.phase = "initial";
      return registrar ? register_model(*registrar, buffered_fit_session(seed, header, version), model)
                       : std::vector<std::uint8_t>{};
    };
  }
  auto in_flight = from.state.flights.size();
  auto first = from.version + 1;
  a.steps = async_steps::create(*st.watch, *st.strategy, std::move(setup), st.global, std::move(from));
  st.observer->on_phase("initial", "server steps " + std::to_string(first) + " to " + std::to_string(a.last) + ", " +
                                     ex.async.mode + " (concurrency " + std::to_string(ex.async.concurrency) + ")" +
                                     (in_flight ? "; " + std::to_string(in_flight) + " fits in flight sent again" : "") +
                                     ", then a round asking every client");
  step(self);
}

} // namespace

void async_initial_steps(coordinator_actor* self) {
  async_position from;
  from.now = self->state.report->sim_time_s;
  start(self, std::move(from));
}

bool async_steps_over(coordinator_actor* self) {
  return self->state.async && self->state.async->over;
}

std::optional<std::uint64_t> async_flights(coordinator_actor* self, fl::checkpoint& cp) {
  auto& st = self->state;
  if (!st.async || st.async->over || !st.async->steps)
    return std::nullopt;
  auto p = st.async->steps->position();
  cp.draws = p.state.draws;
  cp.flights = std::move(p.state.flights);
  for (const auto& [v, w] : p.state.versions)
    cp.versions.emplace(v, *w);
  return st.async->steps->oldest_in_flight();
}

void keep_async_flights(coordinator_actor* self, const fl::checkpoint& cp) {
  auto& st = self->state;
  const auto& ex = st.opt.experiment;
  if (cp.phase != "initial" || !ex.async.asynchronous() || cp.round + 1 >= ex.rounds.initial)
    return;
  st.async = std::make_shared<async_run>();
  async_position p;
  p.version = cp.round;
  p.now = cp.report.sim_time_s;
  p.state.draws = cp.draws;
  p.state.flights = cp.flights;
  for (const auto& [v, w] : cp.versions)
    p.state.versions.emplace(v, std::make_shared<const std::vector<float>>(w));
  st.async->resume_from = std::move(p);
}

void resume_async_steps(coordinator_actor* self, std::uint64_t step) {
  auto& st = self->state;
  async_position from;
  if (st.async && st.async->resume_from)
    from = std::move(*std::exchange(st.async->resume_from, std::nullopt));
  from.version = step;
  from.now = st.report->sim_time_s;
  start(self, std::move(from));
}

} // namespace phases

} // namespace flotilla::actors
