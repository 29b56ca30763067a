#include "actors/round_engine.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <cmath>
#include <cstdio>
#include <set>
#include <limits>
#include <sstream>
#include <utility>

#include "actors/blob_transfer.hpp"
#include "actors/secure_member.hpp"
#include "fl/layer_history.hpp"
#include "fl/stragglers.hpp"

namespace flotilla::actors {

eval_summary combine(const std::vector<std::pair<std::uint32_t, eval_result>>& results) {
  eval_summary s;
  double loss = 0, correct = 0;
  for (const auto& [id, e] : results) {
    s.samples += e.samples;
    loss += e.loss * static_cast<double>(e.samples);
    correct += e.accuracy * static_cast<double>(e.samples);
  }
  if (s.samples > 0) {
    s.loss = loss / static_cast<double>(s.samples);
    s.accuracy = correct / static_cast<double>(s.samples);
  }
  return s;
}

bool repeats(std::optional<errc> code) {
  return code == errc::model_error || code == errc::data_error || code == errc::config_error ||
         code == errc::bad_update;
}

std::optional<caf::error> round_fatal_error(const std::vector<failure>& failures, std::size_t accepted,
                                            const std::string& advice) {
  if (accepted > 0 || failures.empty())
    return std::nullopt;
  for (const auto& f : failures)
    if (!repeats(f.code))
      return std::nullopt;
  const auto& first = failures.front();
  auto more = failures.size() > 1 ? " (and " + std::to_string(failures.size() - 1) + " more clients alike)" : "";
  auto code = *first.code == errc::bad_update ? errc::model_error : *first.code;
  bool refused = std::all_of(failures.begin(), failures.end(), [](const failure& f) { return f.code == errc::bad_update; });
  auto what = refused ? "every update was refused as diverged; client " : "no client could train; client ";
  return make_error(code, what + std::to_string(first.id) + ": " + first.reason + more +
                            (code == errc::model_error ? advice : std::string{}));
}

std::string divergence_advice(const fl::strategy_options& o) {
  // A server step (FedAvgM's momentum, the server optimizers) scales every update: a large
  // one diverges however gently the clients train.
  // The strategies that take one are those that declare server_lr.
  const auto& declared = fl::knobs_of(o.name);
  bool steps = std::any_of(declared.begin(), declared.end(), [](const fl::knob_spec& k) { return k.key == "server_lr"; });
  if (steps && o.has("server_lr")) {
    std::ostringstream lr;
    lr << o.knob("server_lr");
    return "; the server's step may be what diverges: lower strategy.server_lr (" + lr.str() + ")";
  }
  return {};
}

std::string below_quorum(std::size_t accepted, std::size_t asked, std::size_t need,
                         const std::vector<failure>& failures) {
  std::size_t diverged = 0;
  for (const auto& f : failures)
    if (f.code == errc::model_error || f.code == errc::bad_update)
      ++diverged;
  auto tail = ", below the quorum of " + std::to_string(need);
  if (diverged == 0)
    return std::to_string(accepted) + " of " + std::to_string(asked) + " clients answered" + tail;
  auto text = std::to_string(accepted) + " of " + std::to_string(asked) + " clients sent a usable update" + tail + ": " +
              std::to_string(diverged) + " refused as diverged (a non-finite loss, or weights not finite or beyond "
              "+-1e6; see failure_reasons)";
  if (failures.size() > diverged)
    text += ", " + std::to_string(failures.size() - diverged) + " failed or did not answer";
  return text;
}

namespace {

std::string seconds_text(double s) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.1f s", s);
  return buf;
}

// Runs asynchronous jobs one after the other; a job calls its argument when it is done.
struct one_at_a_time : std::enable_shared_from_this<one_at_a_time> {
  using job = std::function<void(std::function<void()>)>;
  bool busy = false;
  std::deque<job> jobs;
  void push(job j) {
    jobs.push_back(std::move(j));
    if (!busy)
      next();
  }
  void next() {
    if (jobs.empty()) {
      busy = false;
      return;
    }
    busy = true;
    auto j = std::move(jobs.front());
    jobs.pop_front();
    j([self = shared_from_this()] { self->next(); });
  }
};

using range_list = std::vector<std::pair<std::size_t, std::size_t>>;

// Withdraws the folded ranges [i, end) of a broken-off update by fetching them again.
void withdraw_ranges(caf::event_based_actor* self, std::shared_ptr<fl::round_updates> updates, std::uint32_t id,
                     blob_ref ref, std::shared_ptr<range_list> folded, std::size_t i,
                     std::function<void(std::string)> done) {
  if (i == folded->size())
    return done({});
  auto [offset, n] = (*folded)[i];
  fetch_range(
    self, ref, offset, n,
    [updates, id](std::size_t off, const float* v, std::size_t k) -> std::string {
      try {
        updates->withdraw(id, off, v, k);
      } catch (const std::exception& e) { // the sender answered other values than it sent before
        return std::string("withdrawing a chunk: ") + e.what();
      }
      return {};
    },
    [=](std::string error) {
      if (!error.empty())
        return done(error);
      withdraw_ranges(self, updates, id, ref, folded, i + 1, done);
    });
}

// Folds a remote update chunk by chunk into a streaming collection. A chunk refused (NaN,
// diverged) or a transfer that breaks off leaves nothing behind: the chunks already summed are
// fetched again and withdrawn (exactly: the sums are integers). When even that fails (the
// sender is gone), the round's sums are poisoned and it does not aggregate.
void stream_update(caf::event_based_actor* self, std::shared_ptr<fl::round_updates> updates, std::uint32_t id,
                   const fit_result& r, std::size_t expected, std::function<void(std::string, errc)> done) {
  auto ref = *r.weights.ref;
  if (ref.floats != expected) {
    release_blob(self, ref);
    return done("update has " + std::to_string(ref.floats) + " weights, the model has " + std::to_string(expected),
                errc::bad_update);
  }
  if (auto why = updates->begin(id, r.samples, r.train_loss); !why.empty()) {
    release_blob(self, ref);
    return done(why, errc::bad_update);
  }
  auto folded = std::make_shared<range_list>();
  auto refused = std::make_shared<bool>(false);
  fetch_chunks(
    self, ref,
    [updates, id, folded, refused](std::size_t offset, const float* v, std::size_t n) -> std::string {
      auto why = updates->fold(id, offset, v, n);
      if (why.empty())
        folded->emplace_back(offset, n);
      else
        *refused = true;
      return why;
    },
    [=](std::string error) {
      if (error.empty()) {
        release_blob(self, ref);
        return done(updates->commit(id), errc::bad_update);
      }
      auto code = *refused ? errc::bad_update : errc::round_failed;
      auto reason = *refused ? error : "its update broke off: " + error;
      withdraw_ranges(self, updates, id, ref, folded, 0, [=](std::string failed) {
        release_blob(self, ref);
        if (failed.empty())
          updates->abandon(id);
        else
          updates->poison("client " + std::to_string(id) + "'s update broke off after " +
                          std::to_string(folded->size()) +
                          " chunks had been summed, and they could not be fetched again to withdraw them (" + failed +
                          "); this round cannot aggregate");
        done(reason, code);
      });
    });
}

} // namespace

void run_round(down_watch& watch, fl::strategy& strategy, round_inputs in, evaluator evaluate,
               std::function<void(round_outcome)> done, round_hooks hooks) {
  auto start = std::chrono::steady_clock::now();
  std::vector<std::uint32_t> ids;
  for (const auto& p : in.available) // under the virtual clock an offline device cannot be sampled
    if (!in.sim || in.sim->clock->online(p.id, in.sim->start))
      ids.push_back(p.id);
  auto plan = strategy.configure_fit(in.header.round, ids, in.fraction_fit, in.sampling_seed);
  auto epochs = static_cast<std::uint32_t>(plan.config.value("epochs", in.epochs));
  auto slow = fl::stragglers_of(plan.participants, in.stragglers, epochs, in.header.round, in.sampling_seed);
  std::vector<peer> asked;
  // Sorted by id (as documented; sorting what is already sorted costs one pass): a lookup per
  // participant, not a scan of every registered client (a million of them).
  if (!std::is_sorted(in.available.begin(), in.available.end(), [](const peer& a, const peer& b) { return a.id < b.id; }))
    std::sort(in.available.begin(), in.available.end(), [](const peer& a, const peer& b) { return a.id < b.id; });
  for (auto id : plan.participants) {
    auto p = std::lower_bound(in.available.begin(), in.available.end(), id,
                              [](const peer& a, std::uint32_t b) { return a.id < b; });
    if (p != in.available.end() && p->id == id && (in.keep_stragglers || !slow.count(id)))
      asked.push_back(*p);
  }
  if (auto why = strategy.cannot_ever_aggregate(asked.size()); !why.empty()) {
    // Training would be wasted: whatever the clients send, this round keeps its model, and so
    // would every later one of this size.
    round_outcome out;
    out.record = in.header;
    out.record.asked = static_cast<std::uint32_t>(asked.size());
    out.record.aggregated = false;
    out.record.not_aggregated = strategy.options().name + ": " + why;
    out.model = in.model;
    // Devices offline now may be back later: under the virtual clock a round short of them is
    // not the configuration's fault. Its server waited a deadline for them.
    bool some_offline = in.sim && ids.size() < in.available.size();
    if (in.sim)
      out.record.sim_time_s = in.sim->start + (some_offline ? in.sim->deadline_s : 0.0);
    if (!some_offline)
      out.fatal = make_error(errc::config_error, out.record.not_aggregated);
    return done(std::move(out));
  }
  // Under the virtual clock every participant's completion is known now. One that cannot make
  // the deadline would train for nothing: it is not asked, and fails the round as a late one.
  auto planned = std::make_shared<std::map<std::uint32_t, double>>();
  std::vector<failure> too_slow;
  std::vector<double> too_slow_at;
  if (in.sim) {
    fl::round_timing t;
    t.start = in.sim->start;
    t.deadline_s = in.sim->deadline_s;
    std::vector<peer> in_time;
    for (const auto& p : asked) {
      auto it = slow.find(p.id);
      auto at = in.sim->start + in.sim->clock->fit_seconds(p.id, it == slow.end() ? epochs : it->second);
      auto online = in.sim->clock->period_of(p.id, in.sim->start);
      if (at >= online.end && fl::makes_deadline(t, online.end)) {
        // It drops out mid-fit: the server never hears back and waits for it until the deadline.
        too_slow.push_back({p.id, "its device goes offline at " + seconds_text(online.end) +
                                    ", before its fit would finish at " + seconds_text(at) + " (clock=virtual): not asked",
                            errc::round_failed});
        too_slow_at.push_back(std::numeric_limits<double>::infinity());
        continue;
      }
      if (fl::makes_deadline(t, at)) {
        (*planned)[p.id] = at;
        in_time.push_back(p);
        continue;
      }
      too_slow.push_back({p.id, "its device would finish at " + seconds_text(at) + ", after the round's deadline at " +
                                  seconds_text(in.sim->start + in.sim->deadline_s) + " (clock=virtual): not asked",
                          errc::round_failed});
      too_slow_at.push_back(at);
    }
    asked = std::move(in_time);
  }
  // The round keeps `in` in its callbacks: let go of the registered clients (a million of them
  // would be copied with it), and of the spawner once it has given the asked their actors.
  std::vector<peer>().swap(in.available);
  if (in.materialize)
    std::exchange(in.materialize, {})(asked);
  in.header.stragglers = static_cast<std::uint32_t>(slow.size());
  in.header.stragglers_kept = in.keep_stragglers && !slow.empty();
  auto n_asked = asked.size() + too_slow.size();
  auto updates = std::make_shared<fl::round_updates>(in.model.size(), strategy.keeps_updates() || in.keep_updates);
  // Secure aggregation needs a sum only: a round that needs the updates themselves runs in the clear.
  const bool secure = in.secure.on && !updates->keeps();
  const std::uint64_t session =
    secure ? secure_session(in.secure.seed, in.header) : 0;
  auto secure_fits = std::make_shared<std::map<std::uint32_t, secure_member>>();
  std::map<std::uint32_t, peer> handles;
  if (secure)
    for (const auto& p : asked)
      handles.emplace(p.id, p);
  auto member_of = [secure, aggregator = in.secure.aggregator](std::uint32_t id) {
    return secure && static_cast<std::int64_t>(id) != aggregator;
  };
  // privacy.dp=distributed: the members' shares add up to N(0, (sigma C)^2) when all of them are in.
  std::size_t members = 0;
  for (const auto& p : asked)
    members += member_of(p.id) ? 1 : 0;
  const auto& dp = in.dp;
  const bool shares = secure && dp.on() && dp.distributed && members > 0;
  // privacy.adaptive_clip: the clipped count's noise, and what is left of sigma for the updates.
  const auto noise_plan = plan_dp(dp, n_asked);
  const bool counted = noise_plan.counted;
  auto fit_for = [&](fl::fit_config config, bool masked) {
    fit_ins f{std::move(config), in.model, fl::layer_step(in.header.phase, in.header.round), in.durable};
    set_dp_fit(f, dp, noise_plan, masked && shares, members, in.header.round);
    if (masked) {
      f.secure_session = session;
      f.secure_uniform = dp.on();
      f.model_registration = registration_wire::of(in.secure.registration);
    }
    return std::make_tuple(fit_atom::value, std::move(f));
  };
  // One message for all participants: locally they share the buffer, no copy per client.
  auto msg = fit_for(plan.config, secure);
  auto clear = fit_for(plan.config, false); // the aggregating client's own (it knows it anyway)
  // A kept straggler's request differs only in its epochs; the weights stay shared.
  std::map<std::uint32_t, decltype(msg)> partial;
  for (auto [id, e] : slow) {
    auto config = plan.config;
    config.values["epochs"] = e;
    partial.emplace(id, fit_for(config, member_of(id)));
  }
  if (secure && in.secure.aggregator >= 0 && !slow.count(static_cast<std::uint32_t>(in.secure.aggregator)))
    partial.emplace(static_cast<std::uint32_t>(in.secure.aggregator), clear);
  if (secure && in.secure.tamper_fit) // the injected model-inconsistency attack, on one member
    for (const auto& p : asked)
      if (member_of(p.id)) {
        auto m = partial.count(p.id) ? partial.at(p.id) : msg;
        in.secure.tamper_fit(std::get<1>(m));
        partial[p.id] = std::move(m);
        break;
      }
  auto layout = in.model.layout;
  fan_out_hooks<fit_result> fan;
  fan.keep = false;
  fan.on_each = hooks.on_progress;
  auto fit_seconds = std::make_shared<double>(0.0);
  auto trained = std::make_shared<std::uint64_t>(0); // the accepted updates' samples, whatever their weights
  // privacy.adaptive_clip: accepted updates in the clear that fit within the clip, and the
  // secure sum's count (fixed_terms grid, the members' count noise shares in it).
  auto within = std::make_shared<std::size_t>(0);
  auto secure_count = std::make_shared<std::int64_t>(0);
  auto accept = [updates, layout, fit_seconds, trained, within, uniform = dp.on(),
                 on_update = hooks.on_update](std::uint32_t id, fit_result& r) -> std::string {
    auto reason = updates->accept({id, uniform ? 1 : r.samples, r.train_loss, r.weights.data});
    if (reason.empty()) {
      *fit_seconds += r.seconds;
      *trained += r.samples;
      *within += r.within_clip ? 1 : 0;
      if (on_update)
        on_update(r);
    }
    return reason;
  };
  // Updates from other processes arrive as references (blob_transfer.hpp) and are fetched one
  // at a time, so an aggregation point holds at most one transfer's chunks besides its sums.
  // A streaming collection folds each chunk as it comes and never holds a whole update; a
  // round that needs whole updates (a keeping strategy, the coordinator's clustering features)
  // fetches each whole, accepts it like a local one and lets it go.
  auto transfers = std::make_shared<one_at_a_time>();
  auto* self = watch.self();
  // Jobs still queued when the actor ends (a crash, an exception) would keep the round alive
  // through their callbacks: drop them then.
  self->attach_functor([w = std::weak_ptr<one_at_a_time>(transfers)] {
    if (auto t = w.lock())
      t->jobs.clear();
  });
  auto expected = in.model.size();
  const bool uniform_weight = dp.on();
  // Uniform weights (privacy.dp) are applied where whole updates are accepted.
  bool whole = updates->keeps() || static_cast<bool>(hooks.on_update) || dp.on() ||
               expected <= current_transfer_settings().stream_above_floats;
  fan.accept_async = [=](std::uint32_t id, fit_result& r, std::function<void(std::string, errc)> settle) {
    auto refuse = [&](std::string why) {
      if (r.weights.pending())
        release_blob(self, *r.weights.ref);
      settle(std::move(why), errc::bad_update);
    };
    if (r.client_id != id)
      return refuse("answer names client " + std::to_string(r.client_id));
    if (in.sim) { // a delay injected into a fit under the virtual clock is simulated, not slept
      auto& at = (*planned)[id];
      at += std::max(0.0, r.sim_delay_s);
      if (!fl::makes_deadline({in.sim->start, in.sim->deadline_s, {}, {}}, at)) {
        if (r.weights.pending())
          release_blob(self, *r.weights.ref);
        return settle("its update would arrive at " + seconds_text(at) + ", after the round's deadline at " +
                        seconds_text(in.sim->start + in.sim->deadline_s) + " (clock=virtual)",
                      errc::round_failed);
      }
    }
    if (member_of(id)) {
      // A member's secure fit carries no weights: its update waits at the member to be masked.
      if (r.weights.size() != 0)
        return refuse("answered a secure fit with its weights in the clear");
      if (r.secure_bits > 62)
        return refuse("reports a secure contribution of " + std::to_string(r.secure_bits) + " bits (at most 62)");
      if (!std::isfinite(r.train_loss))
        return refuse("update reports a non-finite training loss");
      if (r.samples > fl::max_samples)
        return refuse("update claims " + std::to_string(r.samples) + " training samples (at most 2^53)");
      (*secure_fits)[id] = secure_member{handles.at(id), r.samples, uniform_weight ? 1 : r.samples, r.train_loss,
                                         r.seconds, r.secure_bits};
      return settle({}, errc::bad_update);
    }
    if (r.weights.layout != layout)
      return refuse("update belongs to another model layout");
    if (!r.weights.pending())
      return settle(accept(id, r), errc::bad_update);
    if (r.weights.size() != expected) // refused as a local update of that size would be
      return refuse("update has " + std::to_string(r.weights.size()) + " weights, the model has " +
                    std::to_string(expected));
    auto* held = &r; // owned by the fan-out until settle is called
    transfers->push([=](std::function<void()> finished) {
      if (whole) {
        fetch_blob(self, held->weights, expected, [=](std::string error, weight_blob b) {
          finished();
          if (!error.empty())
            return settle("its update could not be fetched: " + error, errc::round_failed);
          held->weights = std::move(b);
          settle(accept(id, *held), errc::bad_update);
        });
        return;
      }
      stream_update(self, updates, id, *held, expected,
                    [=, seconds = held->seconds, samples = held->samples](std::string why, errc code) {
        finished();
        if (why.empty()) {
          *fit_seconds += seconds;
          *trained += samples;
        }
        settle(std::move(why), code);
      });
    });
  };
  auto* s = &strategy;
  auto secure_error = std::make_shared<std::string>();
  auto secure_stats = std::make_shared<secure_outcome>();
  auto finish = [s, in, updates, evaluate, done, start, n_asked, planned, too_slow, too_slow_at,
                 fit_seconds, trained, secure_error, secure_stats, shares, members, noise_plan, within,
                 secure_count](fan_in<fit_result>& fits) {
    round_outcome out;
    out.record = in.header;
    auto& rec = out.record;
    rec.asked = static_cast<std::uint32_t>(n_asked);
    if (in.sim) {
      fl::round_timing t;
      t.start = in.sim->start;
      t.deadline_s = in.sim->deadline_s;
      for (auto id : fits.accepted)
        t.completion.push_back(planned->at(id));
      t.completion.insert(t.completion.end(), too_slow_at.begin(), too_slow_at.end());
      for (const auto& f : fits.failures)
        if (f.code == errc::round_failed && planned->count(f.id)) // arrived after the deadline
          t.completion.push_back(planned->at(f.id));
        else if (!f.code && f.reason.rfind("gone", 0) != 0 && f.reason.rfind("no actor", 0) != 0)
          t.completion.push_back(std::numeric_limits<double>::infinity()); // never answered: a hang
      if (in.sim->server >= 0)
        t.server = in.sim->clock->server_seconds(static_cast<std::uint32_t>(in.sim->server),
                                                 static_cast<std::uint32_t>(n_asked - too_slow.size()),
                                                 static_cast<std::uint32_t>(fits.accepted.size()));
      rec.sim_time_s = fl::round_end(t);
      if (n_asked == too_slow.size() && too_slow.empty()) // nobody online to ask: the server waited a deadline
        rec.sim_time_s = in.sim->start + in.sim->deadline_s;
    }
    fits.failures.insert(fits.failures.end(), too_slow.begin(), too_slow.end());
    std::sort(fits.failures.begin(), fits.failures.end(), [](const failure& a, const failure& b) { return a.id < b.id; });
    for (const auto& f : fits.failures) {
      rec.failed.push_back(f.id);
      rec.failure_reasons.push_back(f.reason);
    }
    rec.failures = static_cast<std::uint32_t>(fits.failures.size());
    rec.clients = static_cast<std::uint32_t>(updates->count());
    rec.samples = *trained;
    rec.fit_seconds = *fit_seconds;
    rec.secure_members = static_cast<std::uint32_t>(secure_stats->survivors.size());
    rec.secure_bits = secure_stats->bits;
    rec.secure_bytes_up = secure_stats->bytes_up;
    rec.secure_bytes_down = secure_stats->bytes_down;
    rec.clip = in.dp.on() ? in.dp.clip : 0.0;
    out.failures = std::move(fits.failures);
    out.updates = updates;
    out.model = in.model;
    std::vector<fl::client_failure> failed;
    for (const auto& f : out.failures)
      failed.push_back({f.id, f.reason});
    auto need = quorum_of(n_asked, in.quorum);
    if (n_asked == 0) {
      rec.aggregated = false;
      rec.not_aggregated = "no participant to ask";
    } else if (!secure_error->empty()) {
      // The members' updates could not be summed securely: what is left (the aggregating
      // client's own update) is not this round's aggregate.
      rec.aggregated = false;
      rec.not_aggregated = "secure aggregation: " + *secure_error;
    } else if (updates->count() < need) {
      rec.aggregated = false;
      rec.not_aggregated = below_quorum(updates->count(), n_asked, need, out.failures);
    } else if (auto why = s->cannot_aggregate(*updates); !why.empty()) {
      rec.aggregated = false;
      rec.not_aggregated = s->options().name + ": " + why;
    } else {
      try {
        // A streaming round's sums become its mean here, released as they convert: the
        // aggregation point never holds sums and mean and a copy at once.
        if (!updates->keeps() && updates->poisoned().empty())
          updates->finalize();
        // The round's model is set only once every step worked: a step that throws (noise, the
        // count) leaves the given model, never the un-noised mean.
        auto next = s->aggregate_fit(rec.round, in.model.values(), *updates, failed);
        // Distributed noise: the survivors' shares are in the sum; with k of m members in it the
        // noise is N(0, (sigma C)^2 k / m), the round's effective multiplier for the accountant
        // (the count's shares thin out alike: the pair stays one mechanism at that multiplier).
        const bool noised = shares && !secure_stats->survivors.empty();
        double clip_counted = -1;
        if (in.dp.on()) {
          auto step = dp_step(in.dp, noise_plan, in.model.values(), std::move(next), updates->count(), n_asked, noised,
                              *within, *secure_count, rec.round);
          next = std::move(step.model);
          clip_counted = step.clip_fraction;
        }
        out.model = weight_blob{in.model.layout, std::move(next)};
        if (noised)
          rec.noise_multiplier = in.dp.sigma * std::sqrt(static_cast<double>(secure_stats->survivors.size()) /
                                                         static_cast<double>(members));
        rec.clip_fraction = clip_counted;
        rec.aggregated = true;
        rec.train_loss = updates->train_loss();
      } catch (const std::exception& e) {
        rec.aggregated = false;
        rec.not_aggregated = e.what();
      }
    }
    out.fatal = round_fatal_error(out.failures, updates->count(), divergence_advice(s->options()));
    auto shared = std::make_shared<round_outcome>(std::move(out));
    evaluate(shared->model, shared->failures, [shared, done, start](eval_summary e) {
      auto& rec = shared->record;
      rec.test_accuracy = e.accuracy;
      rec.test_loss = e.loss;
      rec.evaluated = e.samples;
      rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      shared->eval_error = e.error;
      done(std::move(*shared));
    });
  };
  // Secure fits in: the members' sum is made under masks, then the round finishes as any other.
  auto* w = &watch;
  auto collected = [w, finish, secure_fits, secure_stats, secure_error, updates, fit_seconds, trained, counted,
                    secure_count, on_update = hooks.on_update, setup = in.secure, session, model = in.model,
                    timeout_s = in.timeout_s](fan_in<fit_result>& fits) {
    if (secure_fits->empty())
      return finish(fits);
    std::vector<secure_member> members;
    for (auto& [id, m] : *secure_fits)
      members.push_back(m);
    auto held = std::make_shared<fan_in<fit_result>>(std::move(fits));
    // privacy.adaptive_clip: one more value, the members' clipped count (secure_sessions::keep).
    run_secure_sum(*w, setup, session, std::move(members), model.size() + (counted ? 1 : 0),
                   model_digest(model.values()), timeout_s,
                   [=](secure_outcome so) {
      auto& fits = *held;
      std::set<std::uint32_t> out_of_sum;
      for (const auto& f : so.dropped)
        out_of_sum.insert(f.id);
      fits.accepted.erase(std::remove_if(fits.accepted.begin(), fits.accepted.end(),
                                         [&](std::uint32_t id) { return out_of_sum.count(id) > 0; }),
                          fits.accepted.end());
      fits.failures.insert(fits.failures.end(), so.dropped.begin(), so.dropped.end());
      *secure_error = so.error;
      if (so.error.empty() && counted) {
        *secure_count = so.sum.back();
        so.sum.pop_back();
      }
      if (so.error.empty()) {
        std::vector<fl::client_update> summed;
        for (const auto& m : so.survivors)
          summed.push_back({m.who.id, m.weight, m.train_loss, nullptr});
        if (auto why = updates->accept_sum(so.sum, summed, model.values()); !why.empty()) {
          *secure_error = why; // cannot happen with a sum the protocol made; refused all the same
          for (const auto& m : so.survivors)
            fits.failures.push_back({m.who.id, "left out of the secure sum: " + why, std::nullopt});
          fits.accepted.clear();
        } else {
          for (const auto& m : so.survivors) {
            *fit_seconds += m.seconds;
            *trained += m.samples;
            if (on_update) {
              fit_result r;
              r.client_id = m.who.id;
              r.samples = m.samples;
              r.train_loss = m.train_loss;
              r.seconds = m.seconds;
              on_update(r); // no weights: nobody sees a member's update
            }
          }
          std::vector<std::int64_t>().swap(so.sum); // folded in: the record keeps only the counts
        }
      }
      // Without a sum, so.dropped lists every member: none of them stays accepted.
      *secure_stats = std::move(so);
      finish(fits);
    });
  };
  fan_out<fit_result>(
    watch, asked, in.timeout_s,
    [msg, partial = std::move(partial)](const peer& p) {
      auto it = partial.find(p.id);
      return it == partial.end() ? msg : it->second;
    },
    collected, fan);
}

} // namespace flotilla::actors
