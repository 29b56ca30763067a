// FedBuff's server step from the buffer (strategy.mode=buffered), in the clear or under secure
// aggregation: when the buffer is ready, the step's sum on FedAvg's exact grid, the members'
// commits and masked sum, and the steps that are short or do not aggregate. The rest of the
// engine (sending, ordering, the clock, positions) is async_steps.cpp.
#include "actors/async_steps.hpp"

#include <algorithm>
#include <set>

#include "fl/round_updates.hpp"

namespace flotilla::actors {

// Whether `id`'s fits are held at the member and summed under masks.
bool async_steps::held(std::uint32_t id) const {
  return setup_.secure.on && static_cast<std::int64_t>(id) != setup_.secure.aggregator;
}

// FedBuff steps once the buffer holds its K updates; under secure aggregation also from at least
// min_members distinct members (a fast member may be in the buffer twice, at two versions), so
// that the sum hides each of them: the buffer then waits for more.
bool async_steps::ready() const {
  if (buffer_.size() < setup_.options.buffer)
    return false;
  return !setup_.secure.on || held_members() >= setup_.secure.min_members;
}

// The distinct members whose updates in the buffer they hold (the aggregator's own are not).
std::size_t async_steps::held_members() const {
  std::set<std::uint32_t> members;
  for (const auto& b : buffer_)
    if (b.ticket != 0)
      members.insert(b.client);
  return members.size();
}

// An entry's FedBuff weight: its samples times its staleness weight (what the member computes
// for a held one, secure_sessions::commit).
std::uint64_t async_steps::weight_of(const buffered& b) const {
  return fl::buffered_weight(b.samples, fl::staleness_weight(setup_.options, b.staleness));
}

// One server step from the buffer (FedBuff): each update's delta on the current model,
// weighted by its samples and its staleness, through the configured server strategy. A streaming
// strategy gets the sum of weight x delta on FedAvg's exact grid (fl::fixed_terms) over the
// current model: what a secure sum of the members' held deltas gives, bit for bit. `masked`:
// that sum over the held entries (secure aggregation); the entries with their delta here are
// added to it.
std::string async_steps::buffered_step(std::vector<std::int64_t>* masked) {
  auto current = model_.values();
  fl::round_updates updates(current.size(), strategy_.keeps_updates());
  // A fast client may be in the buffer twice (FedBuff allows it): each entry is its own update.
  std::uint32_t entry = 0;
  bool summed = false;
  if (!updates.keeps()) {
    // Beyond the grid's 64 bits (huge sample counts times large deltas) a clear step falls back
    // to whole updates below; a secure one cannot (its members' sum is all there is).
    std::vector<std::int64_t> sum = masked ? std::move(*masked) : std::vector<std::int64_t>(current.size(), 0);
    std::vector<std::int64_t> terms(current.size());
    std::vector<fl::client_update> entries;
    bool fits = true;
    for (const auto& b : buffer_) {
      auto weight = weight_of(b);
      entries.push_back({entry++, weight, b.loss, nullptr});
      if (b.ticket != 0)
        continue; // in the masked sum
      if (b.delta.size() != sum.size())
        return "client " + std::to_string(b.client) + ": its update has " + std::to_string(b.delta.size()) + " weights";
      fits = fits && fl::fixed_terms(weight, b.delta.data(), b.delta.size(), terms.data()) == b.delta.size();
      for (std::size_t i = 0; fits && i < sum.size(); ++i) {
        auto v = static_cast<__int128>(sum[i]) + terms[i];
        fits = v < (static_cast<__int128>(1) << 63) && v >= -(static_cast<__int128>(1) << 63);
        sum[i] = static_cast<std::int64_t>(v);
      }
    }
    if (!fits && masked)
      return "the step's updates sum beyond secure aggregation's 64 bits (a diverged model)";
    if (fits) {
      if (auto why = updates.accept_sum(sum, entries, current); !why.empty())
        return why;
      summed = true;
    }
    entry = 0;
  }
  for (auto& b : buffer_) {
    if (summed)
      break;
    auto w = std::make_shared<std::vector<float>>(current);
    for (std::size_t i = 0; i < w->size(); ++i)
      (*w)[i] += b.delta[i];
    if (auto why = updates.accept({entry++, weight_of(b), b.loss, std::move(w)}); !why.empty())
      return "client " + std::to_string(b.client) + ": " + why;
  }
  if (auto why = strategy_.cannot_aggregate(updates); !why.empty())
    return why;
  if (!updates.keeps())
    updates.finalize();
  model_ = weight_blob{model_.layout,
                       strategy_.aggregate_fit(static_cast<std::uint32_t>(pos_.version + 1), current, updates, {})};
  return {};
}

// A server step from the buffer as it is: summed under masks, or in the clear.
void async_steps::take_buffer() {
  if (setup_.secure.on)
    return secure_step();
  if (auto why = buffered_step(); !why.empty()) {
    buffer_.clear();
    async_step out;
    out.error = "server step " + std::to_string(pos_.version + 1) + ": " + why;
    out.repeats = true;
    pumping_ = false;
    std::exchange(done_, {})(std::move(out));
    return;
  }
  step_on_buffer();
}

// Every member that could train now was asked at this version (fewer members than the buffer, or
// members lost): sending one again would train the same update (the same member, model and
// seed) or fail again, so the step takes the buffer as it is. False when someone else may still come.
bool async_steps::short_step() {
  if (buffer_.empty())
    return false;
  bool waiting = false;
  for (const auto& m : members_)
    if (m.handle && !flights_.busy(m.id) && tried_.count(m.id))
      waiting = true;
  if (!waiting)
    return false;
  if (setup_.secure.on && held_members() < setup_.secure.min_members)
    skip_step("secure aggregation: the buffer holds updates of " + std::to_string(held_members()) +
              " members besides the aggregator and no other can train at this version, below privacy.min_cluster = " +
              std::to_string(setup_.secure.min_members) + " (a smaller sum would expose them)");
  else
    take_buffer();
  return true;
}

// Under secure aggregation a full buffer waits for min_members distinct members; why it never
// will (fewer such members can train at all), or empty.
std::string async_steps::stalled() const {
  if (!setup_.secure.on || buffer_.size() < setup_.options.buffer)
    return {};
  std::size_t able = 0;
  for (const auto& m : members_)
    if (m.handle && held(m.id))
      ++able;
  if (able >= setup_.secure.min_members)
    return {};
  return "secure aggregation: " + std::to_string(able) + " members besides the aggregator can train, below "
         "privacy.min_cluster = " + std::to_string(setup_.secure.min_members) + " (a smaller sum would expose them)";
}

// A step that does not aggregate (the model stays), as a synchronous round that cannot.
void async_steps::skip_step(std::string why) {
  buffer_.clear();
  finish({}, 0, 0.0, std::move(why));
}

// The step from the buffer's entries (the model is already updated).
void async_steps::step_on_buffer() {
  std::vector<std::uint32_t> stale;
  std::uint64_t samples = 0;
  double loss = 0;
  for (const auto& x : buffer_) {
    stale.push_back(x.staleness);
    samples += x.samples;
    loss += x.loss * static_cast<double>(x.samples);
  }
  buffer_.clear();
  finish(stale, samples, samples > 0 ? loss / static_cast<double>(samples) : 0.0);
}

// A full buffer under secure aggregation: each member commits its held fits to the step's
// session (weighting them itself), then the protocol sums them; fits still in flight go on
// meanwhile (their results wait for the next step).
void async_steps::secure_step() {
  summing_ = true;
  pumping_ = false;
  auto header = setup_.header;
  header.round = static_cast<std::uint32_t>(pos_.version + 1);
  auto session = secure_session(setup_.secure.seed, header);
  step_commit step{pos_.version, header.phase == "initial" ? 0u : 1u,
                   header.cluster == fl::no_cluster ? -1 : std::int64_t{header.cluster}, header.term, {}};
  std::map<std::uint32_t, std::pair<peer, std::vector<held_fit>>> fits;
  for (const auto& b : buffer_) {
    if (b.ticket == 0)
      continue;
    auto& f = fits[b.client];
    auto it = std::find_if(members_.begin(), members_.end(), [&](const peer& p) { return p.id == b.client; });
    f.first = it != members_.end() ? *it : peer{b.client, client_handle{}};
    f.second.push_back({b.fit_session, b.ticket});
  }
  auto me = shared_from_this();
  commit_held_fits(watch_, session, step, fits, setup_.timeout_s, [me, session, fits](commit_outcome c) {
    if (me->stopped_)
      return;
    std::vector<secure_member> members;
    for (const auto& [id, bits] : c.bits) {
      secure_member m;
      m.who = fits.at(id).first;
      m.bits = bits;
      for (const auto& b : me->buffer_)
        if (b.client == id && b.ticket != 0) {
          m.samples += b.samples;
          m.weight += me->weight_of(b);
        }
      members.push_back(m);
    }
    auto length = me->model_.values().size();
    auto held = std::make_shared<commit_outcome>(std::move(c));
    run_secure_sum(me->watch_, me->setup_.secure, session, std::move(members), length, buffered_digest(session),
                   me->setup_.timeout_s, [me, held](secure_outcome so) {
      if (!me->stopped_)
        me->secure_summed(std::move(*held), std::move(so));
    });
  });
}

// The masked sum is in: the step. Or it could not be made: a step that does not aggregate.
void async_steps::secure_summed(commit_outcome committed, secure_outcome summed) {
  summing_ = false;
  std::set<std::uint32_t> out;
  for (auto& f : committed.failed) {
    out.insert(f.id);
    failed_ids_.push_back(f.id);
    failure_reasons_.push_back(std::move(f.reason));
  }
  for (auto& f : summed.dropped) {
    if (!summed.error.empty() && f.alive)
      f.reason = "its update was lost with the step's secure sum: " + summed.error;
    out.insert(f.id);
    failed_ids_.push_back(f.id);
    failure_reasons_.push_back(std::move(f.reason));
  }
  // Those out of the sum lose their buffered updates (they are masked away); the aggregator's
  // own stay. Without a sum every held entry goes, and the buffer refills.
  buffer_.erase(std::remove_if(buffer_.begin(), buffer_.end(),
                               [&](const buffered& b) {
                                 return b.ticket != 0 && (!summed.error.empty() || out.count(b.client) > 0);
                               }),
                buffer_.end());
  summed.bytes_up += committed.bytes_up;
  summed.bytes_down += committed.bytes_down;
  if (!summed.error.empty() || buffer_.empty()) {
    // As a synchronous round whose sum fails: this step does not aggregate (its updates are
    // masked away), and the next one starts from the same model.
    secure_stats_.bytes_up += summed.bytes_up; // spent all the same
    secure_stats_.bytes_down += summed.bytes_down;
    return skip_step("secure aggregation: " + (summed.error.empty() ? std::string("every member dropped out")
                                                                     : summed.error));
  }
  if (auto why = buffered_step(&summed.sum); !why.empty()) {
    secure_stats_.bytes_up += summed.bytes_up;
    secure_stats_.bytes_down += summed.bytes_down;
    return skip_step("secure aggregation: the sum could not be folded in: " + why);
  }
  summed.bytes_up += secure_stats_.bytes_up;
  summed.bytes_down += secure_stats_.bytes_down;
  secure_stats_ = std::move(summed);
  step_on_buffer();
}

} // namespace flotilla::actors
