#include "fl/cluster_phase.hpp"

#include "fl/privacy/rdp_accountant.hpp"
#include "fl/strategy.hpp"

#include <algorithm>
#include <sstream>
#include <cmath>
#include <set>
#include <stdexcept>


namespace flotilla::fl {

namespace {

std::string str(std::uint64_t x) {
  return std::to_string(x);
}

std::string list(const std::vector<std::uint32_t>& ids) {
  std::string out;
  for (auto id : ids)
    out += (out.empty() ? "" : ",") + str(id);
  return out;
}

phase_command text(phase_command::kind k, std::string line) {
  auto c = phase_command::make(k);
  c.text = std::move(line);
  return c;
}

} // namespace

void cluster_phase::configure(cluster_phase_rules rules, run_report* report) {
  cluster_method_named(rules.method); // an unknown method fails here, not mid-run
  rules_ = std::move(rules);
  report_ = report;
}

cluster_phase::progress& cluster_phase::of(std::uint32_t c) {
  auto it = progress_.find(c);
  if (it == progress_.end())
    throw std::invalid_argument("cluster_phase: cluster " + str(c) + " is not in the phase");
  return it->second;
}

cluster_phase::stage cluster_phase::stage_of(std::uint32_t c) const {
  auto it = progress_.find(c);
  return it == progress_.end() ? stage::idle : it->second.at;
}

std::uint32_t cluster_phase::next_round(std::uint32_t c) const {
  auto it = progress_.find(c);
  return it == progress_.end() ? 0 : it->second.next;
}

std::uint32_t cluster_phase::rounds_done_by_all() const {
  std::optional<std::uint32_t> least;
  for (const auto& c : registry_.clusters())
    if (!c.failed)
      least = std::min(least.value_or(c.rounds_done), c.rounds_done);
  if (least)
    return *least;
  std::uint32_t most = 0; // every cluster failed: as far as any got
  for (const auto& c : registry_.clusters())
    most = std::max(most, c.rounds_done);
  return most;
}

double cluster_phase::total_waited() const {
  double sum = 0;
  for (const auto& [c, s] : waited_)
    sum += s;
  return sum;
}

bool cluster_phase::late_join_before(std::uint32_t round) const {
  return rules_.late_clients > 0 && !late_joined_ && rules_.late_join_round >= 1 &&
         rules_.late_join_round <= rules_.rounds && round == rules_.late_join_round;
}

const cluster_method& cluster_phase::method() const {
  return cluster_method_named(rules_.method);
}

bool cluster_phase::common_point_after(std::uint32_t round) const {
  const auto& m = method();
  return rules_.lockstep || m.splits || (m.reassign && round < rules_.rounds) || late_join_before(round + 1);
}

phase_commands cluster_phase::start(double now, bool resumed) {
  now_ = now;
  finished_ = false;
  step_ = step::none;
  adapt_due_ = false;
  pending_promotions_ = 0;
  progress_.clear();
  phase_commands out;
  for (const auto& c : registry_.clusters()) {
    auto& p = progress_[c.id];
    p.next = c.rounds_done + 1;
    p.at = c.failed ? stage::failed : stage::idle;
    waited_.emplace(c.id, 0.0);
  }
  if (!resumed)
    checkpoint(out); // selection is done: round 0
  std::vector<std::uint32_t> live;
  for (const auto& [id, p] : progress_)
    if (p.at != stage::failed)
      live.push_back(id);
  // Selection chose the servers; after a resume they are new actors: either way each cluster's
  // server is handed its cluster first.
  for (auto c : live) {
    auto& p = of(c);
    if (p.next > rules_.rounds) { // done before a resume: nothing to hand over
      p.at = stage::done;
      continue;
    }
    if (registry_.server_of(c)) {
      p.at = stage::promoting;
      p.after_promotion = then::advance;
      p.promotion_round = p.next - 1;
      out.push_back(phase_command::make(phase_command::kind::promote, c, p.next - 1));
    } else {
      elect(c, p.next, "server lost before round " + str(p.next), then::advance, out);
    }
  }
  check_finish(out);
  return out;
}

void cluster_phase::proceed(std::uint32_t c, phase_commands& out) {
  auto& p = of(c);
  if (late_join_before(p.next)) {
    // Late clients join before this round, placed by every cluster's centroid: wait for all.
    p.at = stage::waiting;
    p.since = now_;
    return try_release(out);
  }
  if (p.next > rules_.rounds || over_budget(c, out)) {
    p.at = stage::done;
    return check_finish(out);
  }
  run(c, out);
}

namespace {
// A cluster's sampling rate: its server samples fraction_fit of its live members (at least one).
double cluster_q(std::size_t members, double fraction) {
  return members == 0 ? 1.0 : static_cast<double>(participants_of(members, fraction)) / static_cast<double>(members);
}
// A cluster's members also took part in the coordinator's rounds: before its own first round a
// cluster's privacy loss is the initial phase's (RDP composes by adding), so its epsilon covers
// everything its members' data went into.
privacy::rdp_accountant accountant_of(const cluster_record& c, const run_report* report) {
  if (!c.privacy_rdp.empty())
    return privacy::rdp_accountant::restore(c.privacy_rdp);
  if (report && !report->privacy_rdp.empty())
    return privacy::rdp_accountant::restore(report->privacy_rdp);
  return {};
}
} // namespace

void cluster_phase::account(std::uint32_t c, round_record& rec) {
  auto acc = accountant_of(registry_.cluster(c), report_);
  // Every round that asked members costs its privacy, also one that kept its model.
  auto members = registry_.live_members(c).size();
  if (rec.asked > 0)
    acc.add_steps(std::min(1.0, static_cast<double>(rec.asked) / static_cast<double>(std::max<std::size_t>(1, members))),
                  rec.noise_multiplier > 0 ? rec.noise_multiplier : rules_.dp_sigma); // distributed: effective
  rec.epsilon = acc.epsilon(rules_.dp_delta);
  registry_.record_privacy(c, acc.state());
  if (rules_.dp_adaptive) // Andrew et al.: the next round's clip, from this round's noised count
    registry_.record_clip(c, privacy::next_clip(clip_of(c), rec.clip_fraction, rules_.clip_rule));
  if (report_)
    report_->epsilon = std::max(report_->epsilon, rec.epsilon);
}

double cluster_phase::clip_of(std::uint32_t c) const {
  if (!rules_.dp_adaptive)
    return 0;
  // The cluster's own, else where the coordinator's rounds left it, else privacy.clip.
  return privacy::clip_now(registry_.cluster(c).dp_clip,
                           privacy::clip_now(report_ ? report_->dp_clip : 0.0, rules_.dp_clip));
}

bool cluster_phase::over_budget(std::uint32_t c, phase_commands& out) {
  if (rules_.dp_sigma <= 0 || rules_.dp_budget <= 0)
    return false;
  const auto& rec = registry_.cluster(c);
  auto acc = accountant_of(rec, report_);
  auto q = cluster_q(registry_.live_members(c).size(), rules_.fraction_fit);
  if (!acc.would_exceed(rules_.dp_budget, rules_.dp_delta, q, rules_.dp_sigma))
    return false;
  std::ostringstream eps;
  eps << acc.epsilon_after(rules_.dp_delta, q, rules_.dp_sigma);
  out.push_back(text(phase_command::kind::warning, "cluster " + str(c) + ": privacy.epsilon_budget: round " +
                                                     str(of(c).next) + " would raise its epsilon to " + eps.str() +
                                                     "; its rounds end at round " + str(rec.rounds_done)));
  return true;
}

void cluster_phase::run(std::uint32_t c, phase_commands& out) {
  auto& p = of(c);
  auto r = p.next;
  if (p.started < r) {
    p.started = r;
    out.push_back(phase_command::make(phase_command::kind::start_round, c, r));
  }
  if (!registry_.server_of(c)) // its server was lost between rounds
    return elect(c, r, "server lost before round " + str(r), then::rerun, out);
  p.at = stage::running;
  out.push_back(phase_command::make(phase_command::kind::run_round, c, r));
}

void cluster_phase::elect(std::uint32_t c, std::uint32_t round, const std::string& reason, then after,
                          phase_commands& out) {
  auto& p = of(c);
  p.at = stage::promoting; // also when it fails below: fail() then releases what waits for it
  p.after_promotion = after;
  p.promotion_round = round;
  const auto& before = registry_.cluster(c);
  if (before.failed)
    return fail(c, out);
  auto old = before.last_server;
  auto next = registry_.elect(c, round, reason);
  if (!next) {
    out.push_back(text(phase_command::kind::warning, "cluster " + str(c) + " failed: " + registry_.cluster(c).failure));
    return fail(c, out);
  }
  if (rules_.clock) // the new server fetches the cluster's model (and state) before it can serve
    registry_.advance_clock(c, rules_.clock->model_seconds(*next));
  out.push_back(text(phase_command::kind::event, "cluster " + str(c) + ": client " + str(*next) +
                                                   " elected server (term " + str(registry_.cluster(c).term) +
                                                   ", round " + str(round) + "): " + reason));
  // A former server still around goes back to being a plain client, unless another cluster has
  // elected it (IFCA moves servers too): demoting it then would take the role it holds now.
  std::int64_t demote = -1;
  if (old >= 0 && !registry_.lost(static_cast<std::uint32_t>(old))) {
    bool elsewhere = false;
    for (const auto& other : registry_.clusters())
      elsewhere = elsewhere || (other.id != c && other.server == static_cast<std::uint32_t>(old));
    if (!elsewhere)
      demote = old;
  }
  auto cmd = phase_command::make(phase_command::kind::promote, c, round);
  cmd.demote = demote;
  out.push_back(std::move(cmd));
}

void cluster_phase::fail(std::uint32_t c, phase_commands& out) {
  auto& p = of(c);
  bool held_step = p.at == stage::promoting && p.after_promotion == then::barrier;
  p.at = stage::failed;
  if (held_step) {
    if (--pending_promotions_ == 0)
      after_step(out);
  } else {
    try_release(out); // it may have been the last cluster the others waited for
  }
  check_finish(out);
}

phase_commands cluster_phase::promoted(std::uint32_t c, double now) {
  now_ = now;
  phase_commands out;
  auto& p = of(c);
  if (p.at != stage::promoting)
    return out;
  switch (p.after_promotion) {
  case then::advance:
    proceed(c, out);
    break;
  case then::rerun:
    run(c, out);
    break;
  case then::barrier:
    p.at = stage::waiting;
    if (--pending_promotions_ == 0)
      after_step(out);
    break;
  }
  return out;
}

phase_commands cluster_phase::promotion_failed(std::uint32_t c, const std::string& why, double now) {
  now_ = now;
  phase_commands out;
  auto& p = of(c);
  if (p.at != stage::promoting)
    return out;
  auto server = registry_.server_of(c);
  if (!server) // lost meanwhile (DOWN): elect the next
    return elect(c, p.promotion_round, "server lost before its promotion: " + why, p.after_promotion, out), out;
  out.push_back(text(phase_command::kind::warning,
                     "cluster " + str(c) + ": promotion of client " + str(*server) + " failed: " + why));
  registry_.mark_lost(*server, "promotion failed: " + why);
  elect(c, p.promotion_round, "promotion of client " + str(*server) + " failed", p.after_promotion, out);
  return out;
}

phase_commands cluster_phase::round_finished(std::uint32_t c, round_report result, std::size_t parameters,
                                             std::uint32_t epochs, double now) {
  now_ = now;
  phase_commands out;
  auto& p = of(c);
  auto& rec = result.record;
  if (p.at != stage::running || rec.round != p.next) // settled already (a late answer)
    return out;
  auto moved = moved_in_.find(c);
  rec.reassigned = moved == moved_in_.end() ? 0 : moved->second;
  if (rules_.dp_sigma > 0)
    account(c, rec);
  if (report_) {
    auto& rep = *report_;
    rep.samples_trained += rec.samples * epochs;
    rep.samples_evaluated += rec.evaluated;
    // Server: model out to the asked members and updates back, model out for evaluation to the
    // members that did not fail, result to us.
    auto members = registry_.live_members(c).size();
    auto evaluated_members = members - std::min<std::size_t>(members, rec.failures);
    rep.bytes_moved += (rec.asked + rec.clients + evaluated_members + 1) * parameters * sizeof(float);
    if (c >= rep.clusters.size())
      rep.clusters.resize(c + 1);
    rep.clusters[c].aggregator_actor = result.aggregator;
    rep.rounds.push_back(rec);
  }
  auto shown = phase_command::make(phase_command::kind::round_done, c, rec.round);
  shown.record = rec;
  out.push_back(std::move(shown));
  if (!rec.aggregated)
    out.push_back(text(phase_command::kind::warning, "cluster " + str(c) + " round " + str(rec.round) + ": " +
                                                       rec.not_aggregated + "; model kept"));
  registry_.record_round(c, rec.round, std::move(result.model), std::move(result.state), rec.sim_time_s,
                         std::move(result.async));
  if (!result.split_off.empty())
    splits_.emplace_back(c, std::move(result.split_off));
  auto r = rec.round;
  p.next = r + 1;
  if (common_point_after(r)) {
    p.at = stage::waiting;
    p.since = now_;
    adapt_due_ = true;
    try_release(out);
    return out;
  }
  if (resumable())
    checkpoint(out);
  proceed(c, out);
  return out;
}

phase_commands cluster_phase::server_lost(std::uint32_t c, std::uint32_t round, std::uint32_t server_id,
                                          const std::string& why, double now) {
  now_ = now;
  phase_commands out;
  auto& p = of(c);
  // Only the round in progress, by the server running it (not a late word about its predecessor).
  auto server = registry_.cluster(c).last_server;
  if (p.at != stage::running || p.next != round || server != static_cast<std::int64_t>(server_id))
    return out;
  out.push_back(text(phase_command::kind::warning,
                     "cluster " + str(c) + ": server " + str(static_cast<std::uint64_t>(std::max<std::int64_t>(0, server))) +
                       " lost in round " + str(round) + ": " + why));
  if (server >= 0)
    registry_.mark_lost(static_cast<std::uint32_t>(server), why);
  if (rules_.clock) // the round's deadline passed before the loss counted
    registry_.advance_clock(c, rules_.deadline_s);
  elect(c, round, why, then::rerun, out);
  return out;
}

void cluster_phase::client_lost(std::uint32_t client, const std::string& why) {
  if (registry_.clients().count(client))
    registry_.mark_lost(client, why); // a lost server is replaced when its cluster next needs it
}

bool cluster_phase::resumable() const {
  // A checkpoint holds the registry, not the phase's progress: it is a point to resume from
  // only while no cluster waits at a common point whose step (IFCA's, CFL's) would be lost. A
  // cluster waiting for the late join is found waiting again (late_joined is saved).
  for (const auto& [id, p] : progress_)
    if (p.at == stage::waiting && !late_join_before(p.next))
      return false;
  return step_ == step::none;
}

void cluster_phase::try_release(phase_commands& out) {
  if (step_ != step::none || finished_ || releasing_)
    return;
  std::optional<std::uint32_t> round;
  for (const auto& [id, p] : progress_) {
    if (p.at == stage::failed || p.at == stage::done)
      continue;
    if (p.at != stage::waiting)
      return; // someone is still on its way
    round = p.next - 1;
  }
  if (!round)
    return;
  barrier_round_ = *round;
  for (auto& [id, p] : progress_)
    if (p.at == stage::waiting)
      waited_[id] += now_ - p.since;
  auto adapt = std::exchange(adapt_due_, false);
  if (adapt && method().splits)
    return apply_splits(out);
  if (adapt && method().reassign && barrier_round_ < rules_.rounds) {
    moved_in_.clear();
    ask_order_.clear();
    for (const auto& c : registry_.clusters())
      if (!c.failed)
        ask_order_.push_back(c.id);
    if (ask_order_.size() >= 2) {
      step_ = step::gathering;
      auto cmd = phase_command::make(phase_command::kind::ask_losses, no_cluster, barrier_round_);
      cmd.clusters = ask_order_;
      out.push_back(std::move(cmd));
      return;
    }
  }
  after_step(out);
}

void cluster_phase::apply_splits(phase_commands& out) {
  auto splits = std::move(splits_);
  splits_.clear();
  // New clusters are numbered in the order of their parents, whichever finished first.
  std::sort(splits.begin(), splits.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  step_ = step::adapting;
  pending_promotions_ = 1; // held until every election below is under way
  auto r = barrier_round_;
  for (auto& [c, proposed] : splits) {
    if (registry_.cluster(c).failed)
      continue;
    auto live = registry_.live_members(c);
    std::vector<std::uint32_t> second;
    for (auto id : proposed)
      if (std::binary_search(live.begin(), live.end(), id))
        second.push_back(id);
    if (second.empty() || second.size() == live.size())
      continue;
    auto child = registry_.split(c, second, r);
    out.push_back(text(phase_command::kind::event, "cluster " + str(c) + " splits after round " + str(r) +
                                                     " (CFL): clients " + list(second) + " form cluster " + str(child)));
    auto& cp = progress_[child];
    cp.next = r + 1;
    cp.started = r;
    cp.at = stage::idle;
    waited_.emplace(child, 0.0);
    if (report_ && report_->clusters.size() < registry_.clusters().size())
      report_->clusters.resize(registry_.clusters().size());
    if (!registry_.server_of(c)) {
      ++pending_promotions_;
      elect(c, r, "its server moved to cluster " + str(child) + " (CFL split)", then::barrier, out);
    }
    ++pending_promotions_;
    elect(child, r, "first server of cluster " + str(child) + " (CFL split of cluster " + str(c) + ")", then::barrier,
          out);
  }
  if (--pending_promotions_ == 0)
    after_step(out);
}

phase_commands cluster_phase::losses_reported(std::uint32_t round, const std::map<std::uint32_t, std::vector<double>>& losses,
                                              double now) {
  now_ = now;
  phase_commands out;
  if (step_ != step::gathering || round != barrier_round_)
    return out;
  std::set<std::uint32_t> need_server;
  std::uint32_t moved = 0;
  for (const auto& [id, l] : losses) {
    if (l.size() != ask_order_.size() || !registry_.clients().count(id) || registry_.lost(id))
      continue;
    if (std::any_of(l.begin(), l.end(), [](double x) { return std::isnan(x); })) {
      out.push_back(text(phase_command::kind::warning, "client " + str(id) + " reported a NaN loss; it stays"));
      continue;
    }
    auto current = registry_.cluster_of(id);
    auto to = method().reassign(l, ask_order_, current);
    if (current && *current == to)
      continue;
    for (auto c : registry_.move_member(id, to))
      need_server.insert(c);
    ++moved_in_[to];
    ++moved;
  }
  if (moved > 0)
    out.push_back(text(phase_command::kind::event, str(moved) + " clients moved to the cluster model with their lowest loss"));
  step_ = step::adapting;
  pending_promotions_ = 1;
  for (auto c : need_server) {
    if (registry_.cluster(c).failed)
      continue;
    ++pending_promotions_;
    elect(c, round + 1, "its server moved to another cluster (IFCA)", then::barrier, out);
  }
  if (--pending_promotions_ == 0)
    after_step(out);
  return out;
}

void cluster_phase::after_step(phase_commands& out) {
  // The after-round steps are done: a point to resume from, then the late clients if due.
  step_ = step::none;
  checkpoint(out);
  if (late_join_before(barrier_round_ + 1)) {
    step_ = step::joining;
    out.push_back(phase_command::make(phase_command::kind::join_late, no_cluster, barrier_round_ + 1));
    return;
  }
  release(out);
}

phase_commands cluster_phase::joiners_placed(std::uint32_t round, const std::vector<late_join_record>& placed, double now) {
  now_ = now;
  phase_commands out;
  if (step_ != step::joining || round != barrier_round_ + 1)
    return out;
  for (const auto& rec : placed) {
    if (registry_.cluster(rec.cluster).failed)
      continue;
    registry_.add_member(rec.cluster, rec.client, round);
    if (report_)
      report_->late_joins.push_back(rec);
    out.push_back(text(phase_command::kind::event, "late client " + str(rec.client) + " joins cluster " +
                                                     str(rec.cluster) + " before round " + str(round)));
  }
  late_joined_ = true;
  step_ = step::none;
  if (rules_.clock) { // the clusters meeting here wait for the slowest joiner's fit
    double slowest = 0;
    for (const auto& rec : placed)
      slowest = std::max(slowest, rules_.clock->fit_seconds(rec.client, rules_.epochs));
    for (const auto& [id, p] : progress_)
      if (p.at == stage::waiting)
        registry_.advance_clock(id, slowest);
  }
  checkpoint(out);
  release(out);
  return out;
}

void cluster_phase::release(phase_commands& out) {
  step_ = step::none;
  std::vector<std::uint32_t> waiting;
  for (const auto& [id, p] : progress_)
    if (p.at == stage::waiting)
      waiting.push_back(id);
  // Clusters that met go on together: on the simulated clock, from the latest of them.
  registry_.meet_clocks(waiting);
  // While they go on, a cluster failing on its way (its election finds nobody) must not release
  // the others a second time: they are no longer waiting, but not all have left yet.
  releasing_ = true;
  for (auto c : waiting)
    if (of(c).at == stage::waiting)
      proceed(c, out);
  releasing_ = false;
  check_finish(out);
}

void cluster_phase::check_finish(phase_commands& out) {
  if (finished_ || step_ != step::none || releasing_)
    return;
  for (const auto& [id, p] : progress_)
    if (p.at != stage::done && p.at != stage::failed)
      return;
  finished_ = true;
  if (report_) // added: a resumed run's report holds what the interrupted process measured
    report_->cluster_wait_seconds += total_waited();
  out.push_back(phase_command::make(phase_command::kind::finish));
}

void cluster_phase::checkpoint(phase_commands& out) {
  out.push_back(phase_command::make(phase_command::kind::checkpoint, no_cluster, rounds_done_by_all()));
}

} // namespace flotilla::fl
