#include "actors/async_steps.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "actors/blob_transfer.hpp"
#include "fl/layer_history.hpp"
#include "fl/round_updates.hpp"

namespace flotilla::actors {

std::shared_ptr<async_steps> async_steps::create(down_watch& watch, fl::strategy& strategy, async_setup setup,
                                                 weight_blob model, async_position from) {
  return std::shared_ptr<async_steps>(new async_steps(watch, strategy, std::move(setup), std::move(model),
                                                      std::move(from)));
}

async_steps::async_steps(down_watch& watch, fl::strategy& strategy, async_setup setup, weight_blob model,
                         async_position from)
    : watch_(watch), strategy_(strategy), setup_(std::move(setup)), model_(std::move(model)) {
  resend_ = from.state.flights;
  for (const auto& f : from.state.flights)
    flights_.add(f);
  for (auto& [v, w] : from.state.versions)
    versions_.emplace(v, weight_blob{model_.layout, std::move(w)});
  from.state.flights.clear();
  from.state.versions.clear();
  pos_ = std::move(from);
}

async_position async_steps::position() const {
  auto p = pos_;
  p.state.flights = flights_.all();
  for (const auto& f : p.state.flights)
    p.state.versions.emplace(f.version, versions_.at(f.version).data);
  return p;
}

void async_steps::registered(std::uint64_t version, std::vector<std::uint8_t> signature) {
  registrations_[version] = std::move(signature);
  // Only the versions fits may still be sent at are needed.
  auto oldest = std::min(flights_.oldest_version().value_or(pos_.version), pos_.version);
  registrations_.erase(registrations_.begin(), registrations_.lower_bound(oldest));
}

void async_steps::stop() {
  stopped_ = true;
  done_ = nullptr; // what it captured (the engine itself, a response promise) goes now
  resend_.clear();
  arrived_.clear();
  failed_.clear();
  arrivals_.clear();
  buffer_.clear();
}

async_wire to_wire(const fl::async_state& s, std::uint64_t layout) {
  async_wire w{s.draws, s.flights, {}, {}};
  for (const auto& [v, m] : s.versions) {
    w.version_ids.push_back(v);
    w.versions.push_back(weight_blob{layout, m});
  }
  return w;
}

fl::async_state from_wire(const async_wire& w) {
  fl::async_state s{w.draws, w.flights, {}};
  for (std::size_t i = 0; i < w.version_ids.size() && i < w.versions.size(); ++i)
    s.versions[w.version_ids[i]] = w.versions[i].data;
  return s;
}

void async_steps::next(std::vector<peer> members, std::uint64_t durable, std::function<void(async_step)> done) {
  members_ = std::move(members);
  durable_ = durable;
  done_ = std::move(done);
  pumping_ = true;
  for (const auto& f : std::exchange(resend_, {})) // a resume's or a new server's fits in flight
    send(f.client, f.version);
  fill(); // places freed since the last step (members asked at its version) go to others now
  pumping_ = false;
  pump();
}

// Sends `id` the model of `version` to train; its result (or failure) comes back to pump.
void async_steps::send(std::uint32_t id, std::uint64_t version) {
  auto it = std::find_if(members_.begin(), members_.end(), [id](const peer& p) { return p.id == id; });
  peer p = it != members_.end() ? *it : peer{};
  p.id = id;
  fit_ins in{fl::fit_config{static_cast<std::uint32_t>(version + 1), setup_.epochs, 0, 0}, versions_.at(version),
             fl::layer_step(setup_.layer_phase, static_cast<std::uint32_t>(version + 1)), durable_};
  if (held(id)) {
    // Secure aggregation: the member trains only on a version the coordinator registered, and
    // holds its update until a step commits it.
    in.secure_session = buffered_fit_session(setup_.secure.seed, setup_.header, version);
    in.secure_ticket = ++next_ticket_;
    std::vector<std::uint8_t> signature;
    if (setup_.register_version)
      signature = setup_.register_version(version, in.weights.values());
    else if (auto it = registrations_.find(version); it != registrations_.end())
      signature = it->second;
    if (signature.size() != 64) {
      // Every member would be refused the same: the step fails instead of drawing them all.
      unregistered_ = "no registration of model version " + std::to_string(version) + " from the coordinator: secure "
                      "fits are not sent";
      failed_[id] = unregistered_;
      if (!setup_.sim)
        arrivals_.push_back(id);
      if (!pumping_)
        pump();
      return;
    }
    in.model_registration = registration_wire::of(signature);
    tickets_[id] = in.secure_ticket;
    if (tamper_)
      std::exchange(tamper_, {})(in);
  }
  fan_out_hooks<fit_result> hooks;
  auto* self = watch_.self();
  auto parameters = setup_.parameters;
  // Weights from another process may be a reference: fetched before they count.
  hooks.accept_async = [self, parameters](std::uint32_t, fit_result& r, std::function<void(std::string, errc)> settle) {
    auto held = &r;
    fetch_blob(self, r.weights, parameters, [held, settle](std::string error, weight_blob w) {
      if (!error.empty())
        return settle("its update could not be fetched: " + error, errc::round_failed);
      held->weights = std::move(w);
      settle({}, errc::round_failed);
    });
  };
  auto me = shared_from_this();
  fan_out<fit_result>(
    watch_, {p}, setup_.timeout_s, [in](const peer&) { return std::make_tuple(fit_atom::value, in); },
    [me, id](fan_in<fit_result>& f) {
      if (me->stopped_)
        return;
      if (!f.results.empty())
        me->arrived_[id] = std::move(f.results.front().second);
      else
        me->failed_[id] = f.failures.empty() ? std::string("no answer") : f.failures.front().reason;
      if (!me->setup_.sim) // clock=wall takes fits as they arrive
        me->arrivals_.push_back(id);
      if (!me->pumping_)
        me->pump();
    },
    hooks);
}

// Fills the free places at `now` with members drawn among those idle and, under the virtual
// clock, online and able to finish within the deadline.
void async_steps::fill() {
  const auto& o = setup_.options;
  const fl::device_clock* clock = setup_.sim ? setup_.sim->clock.get() : nullptr;
  std::vector<std::uint32_t> candidates;
  for (const auto& m : members_)
    if (m.handle && !flights_.busy(m.id) && !tried_.count(m.id) && (!clock || clock->online(m.id, pos_.now)))
      candidates.push_back(m.id);
  // A promoted server's link carries the model out and the update back (the coordinator's costs
  // are not modelled: fl::server_seconds).
  double link = 0;
  if (clock && setup_.sim->server >= 0) {
    auto s = clock->server_seconds(static_cast<std::uint32_t>(setup_.sim->server), 1, 1);
    link = s.send + s.receive;
  }
  while (flights_.size() < o.concurrency && !candidates.empty()) {
    auto id = *fl::pick_client(candidates, setup_.seed, pos_.version, pos_.state.draws++);
    candidates.erase(std::find(candidates.begin(), candidates.end(), id));
    auto done = clock ? pos_.now + link + clock->fit_seconds(id, setup_.epochs) : pos_.now; // wall: when sent
    if (clock && (done - pos_.now > setup_.sim->deadline_s || clock->period_of(id, pos_.now).end <= done))
      continue; // it could not deliver: too slow for the deadline, or it goes offline first
    flights_.add({id, pos_.version, done});
    versions_.emplace(pos_.version, model_);
    ++asked_;
    send(id, pos_.version);
  }
}

// When the first member now offline comes online (none: nullopt; always under the wall clock).
std::optional<double> async_steps::next_online() const {
  const fl::device_clock* clock = setup_.sim ? setup_.sim->clock.get() : nullptr;
  if (!clock)
    return std::nullopt;
  std::optional<double> wake;
  for (const auto& m : members_)
    if (m.handle && !flights_.busy(m.id) && !tried_.count(m.id)) {
      auto p = clock->period_of(m.id, pos_.now);
      if (!p.online && std::isfinite(p.end) && (!wake || p.end < *wake))
        wake = p.end;
    }
  return wake;
}

// The step's record; the caller evaluates it and asks for the next.
void async_steps::finish(std::vector<std::uint32_t> staleness, std::uint64_t samples, double loss,
                         std::string not_aggregated) {
  ++pos_.version;
  tried_.clear(); // members may train on the new version
  if (setup_.sim && setup_.sim->server >= 0) // the server folds the updates at its own speed
    pos_.now += static_cast<double>(staleness.size()) *
                setup_.sim->clock->server_seconds(static_cast<std::uint32_t>(setup_.sim->server), 0, 1).aggregate;
  async_step out;
  auto& rec = out.record;
  rec = setup_.header;
  rec.round = static_cast<std::uint32_t>(pos_.version);
  rec.asked = asked_;
  rec.clients = static_cast<std::uint32_t>(staleness.size());
  rec.failed = std::move(failed_ids_);
  rec.failure_reasons = std::move(failure_reasons_);
  rec.failures = static_cast<std::uint32_t>(rec.failed.size());
  rec.aggregated = not_aggregated.empty();
  rec.not_aggregated = std::move(not_aggregated);
  rec.samples = samples;
  rec.fit_seconds = std::exchange(fit_seconds_, 0.0);
  rec.train_loss = loss;
  rec.sim_time_s = pos_.now;
  rec.staleness_max = staleness.empty() ? 0 : *std::max_element(staleness.begin(), staleness.end());
  double sum = 0;
  for (auto s : staleness)
    sum += s;
  rec.staleness_mean = staleness.empty() ? 0 : sum / static_cast<double>(staleness.size());
  rec.dropped_stale = dropped_stale_;
  rec.staleness = std::move(staleness);
  if (setup_.secure.on) {
    rec.secure_members = static_cast<std::uint32_t>(secure_stats_.survivors.size());
    rec.secure_bits = secure_stats_.bits;
    rec.secure_bytes_up = secure_stats_.bytes_up;
    rec.secure_bytes_down = secure_stats_.bytes_down;
    secure_stats_ = {};
  }
  auto now = std::chrono::steady_clock::now();
  rec.seconds = std::chrono::duration<double>(now - std::exchange(since_, now)).count();
  asked_ = 0;
  dropped_stale_ = 0;
  failed_ids_.clear();
  failure_reasons_.clear();
  pumping_ = false; // the caller may ask for the next step at once
  std::exchange(done_, {})(std::move(out));
}

// Takes the fits in order as far as their results are here, until a step is taken.
void async_steps::pump() {
  const auto& o = setup_.options;
  const bool wall = !setup_.sim;
  auto fail = [this](std::string why, bool repeats = false) {
    async_step out;
    out.error = std::move(why);
    out.repeats = repeats;
    pumping_ = false;
    std::exchange(done_, {})(std::move(out));
  };
  if (pumping_ || summing_)
    return;
  pumping_ = true;
  std::uint32_t waits = 0;
  while (done_ && !stopped_) {
    if (!unregistered_.empty())
      return fail(std::exchange(unregistered_, {}));
    if (flights_.size() == 0) {
      fill();
      if (flights_.size() > 0)
        continue;
      // Nobody can train now: on the simulated clock, wait for the next member to come online
      // (as a synchronous round waits out its deadline); otherwise nobody ever will.
      if (auto wake = next_online(); wake && ++waits <= 10000) {
        pos_.now = *wake;
        continue;
      }
      if (short_step())
        return;
      // Everyone who could train was asked at this version and failed: as a synchronous round
      // that gets no update, this step does not aggregate, and the next version asks them again.
      if (!tried_.empty())
        return skip_step("every client that could train was asked at this version and none delivered an update");
      return fail("no client can train: every one is offline, lost or too slow for rounds.timeout_s at second " +
                  std::to_string(pos_.now));
    }
    // Virtual clock: the fit that completes first in simulated time, once its real result is
    // here (the order waits for it). Wall clock: the fit whose result arrived first.
    std::optional<fl::in_flight::fit> next;
    if (wall) {
      while (!arrivals_.empty() && !flights_.busy(arrivals_.front()))
        arrivals_.pop_front(); // a fit abandoned with its version
      if (arrivals_.empty())
        break;
      next = flights_.of(arrivals_.front());
      arrivals_.pop_front();
    } else {
      next = flights_.earliest();
    }
    auto id = next->client;
    bool failed = failed_.count(id) > 0;
    if (!failed && !arrived_.count(id))
      break;
    if (!wall && !failed) {
      // An injected `slow` delay moves the fit's completion later on the simulated clock: it
      // goes back in line; one past the deadline is refused as late (a negative one is none).
      auto delay = arrived_[id].sim_delay_s;
      if (delay > 0) {
        arrived_[id].sim_delay_s = 0;
        if (!std::isfinite(delay) || delay > setup_.sim->deadline_s) {
          arrived_.erase(id);
          failed_[id] = "its update would arrive " + std::to_string(delay) + " s late, after the deadline of " +
                        std::to_string(setup_.sim->deadline_s) + " s (clock=virtual): refused as late";
        } else {
          flights_.remove(id);
          flights_.add({id, next->version, next->done + delay});
        }
        continue;
      }
    }
    flights_.remove(id);
    std::uint64_t ticket = 0; // secure: the held fit's (before fill() may send this member another)
    if (auto t = tickets_.find(id); t != tickets_.end()) {
      ticket = t->second;
      tickets_.erase(t);
    }
    pos_.now = wall ? setup_.wall_now() : std::max(pos_.now, next->done); // a common point may have moved the clock on
    auto sent = versions_.at(next->version);
    if (auto oldest = flights_.oldest_version())
      versions_.erase(versions_.begin(), versions_.lower_bound(std::min(*oldest, pos_.version)));
    else
      versions_.erase(versions_.begin(), versions_.lower_bound(pos_.version));
    if (next->version == pos_.version)
      tried_.insert(id); // before its place is filled: not the same fit again (nor a lost member)
    fill(); // its place goes to another client at once
    if (failed) {
      failed_ids_.push_back(id);
      failure_reasons_.push_back(std::exchange(failed_[id], {}));
      failed_.erase(id);
      continue;
    }
    auto r = std::move(arrived_[id]);
    arrived_.erase(id);
    auto staleness = static_cast<std::uint32_t>(pos_.version - next->version);
    if (o.max_staleness > 0 && staleness > o.max_staleness) {
      ++dropped_stale_;
      continue;
    }
    // Secure aggregation: a held update stays at the member until the step commits it.
    const bool kept = held(id) && o.mode == "buffered";
    const auto& trained = r.weights.values();
    const auto& start = sent.values();
    const char* refused = nullptr;
    if (kept && (r.weights.size() != 0 || ticket == 0))
      refused = "update refused: it answered a secure fit with its weights in the clear";
    else if (!kept && (trained.size() != start.size() ||
                       std::any_of(trained.begin(), trained.end(), [](float v) { return !std::isfinite(v); })))
      refused = "update refused: wrong size or a non-finite weight";
    if (refused) {
      failed_ids_.push_back(id);
      failure_reasons_.push_back(refused);
      continue;
    }
    fit_seconds_ += r.seconds;
    if (setup_.on_update)
      setup_.on_update(r);
    if (o.mode == "async") {
      // FedAsync: the trained model mixed in at once, by alpha times its staleness weight.
      auto mix = o.alpha * fl::staleness_weight(o, staleness);
      auto current = model_.values();
      for (std::size_t i = 0; i < current.size(); ++i)
        current[i] += static_cast<float>(mix) * (trained[i] - current[i]);
      model_ = weight_blob{model_.layout, std::move(current)};
      return finish({staleness}, r.samples, r.train_loss);
    }
    buffered b{id, r.samples, r.train_loss, staleness, {}};
    if (kept) {
      b.fit_session = buffered_fit_session(setup_.secure.seed, setup_.header, next->version);
      b.ticket = ticket;
    } else {
      b.delta.resize(trained.size());
      for (std::size_t i = 0; i < trained.size(); ++i)
        b.delta[i] = trained[i] - start[i];
    }
    buffer_.push_back(std::move(b));
    if (ready())
      return take_buffer();
    if (auto why = stalled(); !why.empty())
      return skip_step(why);
  }
  pumping_ = false;
}

} // namespace flotilla::actors
