#include "actors/round_engine.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>

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
  if (o.name == "fedavgm" || o.name == "fedadagrad" || o.name == "fedadam" || o.name == "fedyogi") {
    std::ostringstream lr;
    lr << o.server_lr;
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

void run_round(down_watch& watch, fl::strategy& strategy, round_inputs in, evaluator evaluate,
               std::function<void(round_outcome)> done, round_hooks hooks) {
  auto start = std::chrono::steady_clock::now();
  std::vector<std::uint32_t> ids;
  for (const auto& p : in.available)
    ids.push_back(p.id);
  auto plan = strategy.configure_fit(in.header.round, ids, in.fraction_fit, in.sampling_seed);
  std::vector<peer> asked;
  for (auto id : plan.participants)
    for (const auto& p : in.available)
      if (p.id == id)
        asked.push_back(p);
  if (auto why = strategy.cannot_ever_aggregate(asked.size()); !why.empty()) {
    // Training would be wasted: whatever the clients send, this round keeps its model, and so
    // would every later one of this size.
    round_outcome out;
    out.record = in.header;
    out.record.asked = static_cast<std::uint32_t>(asked.size());
    out.record.aggregated = false;
    out.record.not_aggregated = strategy.options().name + ": " + why;
    out.model = in.model;
    out.fatal = make_error(errc::config_error, out.record.not_aggregated);
    return done(std::move(out));
  }
  auto updates = std::make_shared<fl::round_updates>(in.model.size(), strategy.keeps_updates() || in.keep_updates);
  // One message for all participants: locally they share the buffer, no copy per client.
  auto msg = caf::make_message(fit_atom::value, fit_ins{plan.config, in.model});
  auto layout = in.model.layout;
  fan_out_hooks<fit_result> fan;
  fan.keep = false;
  fan.on_each = hooks.on_progress;
  fan.accept = [updates, layout, on_update = hooks.on_update](std::uint32_t id, fit_result& r) -> std::string {
    if (r.client_id != id)
      return "answer names client " + std::to_string(r.client_id);
    if (r.weights.layout != layout)
      return "update belongs to another model layout";
    auto reason = updates->accept({id, r.samples, r.train_loss, r.weights.data});
    if (reason.empty() && on_update)
      on_update(r);
    return reason;
  };
  auto* s = &strategy;
  auto collected = [s, in, updates, evaluate, done, start, n_asked = asked.size()](fan_in<fit_result>& fits) {
    round_outcome out;
    out.record = in.header;
    auto& rec = out.record;
    rec.asked = static_cast<std::uint32_t>(n_asked);
    for (const auto& f : fits.failures) {
      rec.failed.push_back(f.id);
      rec.failure_reasons.push_back(f.reason);
    }
    rec.failures = static_cast<std::uint32_t>(fits.failures.size());
    rec.clients = static_cast<std::uint32_t>(updates->count());
    rec.samples = updates->samples();
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
    } else if (updates->count() < need) {
      rec.aggregated = false;
      rec.not_aggregated = below_quorum(updates->count(), n_asked, need, out.failures);
    } else if (auto why = s->cannot_aggregate(*updates); !why.empty()) {
      rec.aggregated = false;
      rec.not_aggregated = s->options().name + ": " + why;
    } else {
      try {
        out.model = weight_blob{in.model.layout, s->aggregate_fit(rec.round, in.model.values(), *updates, failed)};
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
  fan_out<fit_result>(watch, asked, in.timeout_s, [msg](const peer&) { return msg; }, collected, fan);
}

} // namespace flotilla::actors
