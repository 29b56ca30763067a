#pragma once
// One request to many peers, collected into results and failures (Flower's two lists). Used by
// the coordinator's rounds and by promoted cluster servers alike.
#include <caf/all.hpp>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

namespace flotilla::actors {

/// A participant: its client id and its actor (local or a remote proxy).
struct peer {
  std::uint32_t id = 0;
  caf::actor handle;
};

/// A request that produced no usable result, and why.
struct failure {
  std::uint32_t id = 0;
  std::string reason;
};

/// Fails pending requests as soon as their peer is known to be gone (CAF 0.17 never answers
/// a request to an actor on a dead node; without this only the deadline would end it). The
/// owning actor routes its down messages to `down()`.
class down_watch {
public:
  /// Monitors `who` through `self` the first time it is seen: one monitor per peer for the
  /// actor's lifetime, not one per request (they would pile up, round after round).
  template <class Self>
  void ensure_monitored(Self* self, const caf::actor& who) {
    if (monitored_.insert(who.address()).second)
      self->monitor(who);
  }

  /// Calls `fail(reason)` if `who` goes down before `forget` is called.
  std::uint64_t watch(const caf::actor_addr& who, std::function<void(const std::string&)> fail) {
    auto ticket = next_++;
    waiting_[who].emplace(ticket, std::move(fail));
    return ticket;
  }
  void forget(const caf::actor_addr& who, std::uint64_t ticket) {
    auto it = waiting_.find(who);
    if (it != waiting_.end()) {
      it->second.erase(ticket);
      if (it->second.empty())
        waiting_.erase(it);
    }
  }
  /// Why `who` went down, or null while it is up. CAF sends one DOWN per monitor, so later
  /// requests to a peer already gone are failed from this record.
  const std::string* gone(const caf::actor_addr& who) const {
    auto it = gone_.find(who);
    return it == gone_.end() ? nullptr : &it->second;
  }

  void down(const caf::actor_addr& who, const std::string& reason) {
    gone_.emplace(who, reason);
    auto it = waiting_.find(who);
    if (it == waiting_.end())
      return;
    auto callbacks = std::move(it->second);
    waiting_.erase(it);
    for (auto& [ticket, fail] : callbacks)
      fail(reason);
  }

private:
  std::uint64_t next_ = 0;
  std::set<caf::actor_addr> monitored_;
  std::map<caf::actor_addr, std::string> gone_;
  std::map<caf::actor_addr, std::map<std::uint64_t, std::function<void(const std::string&)>>> waiting_;
};

/// Results and failures of one fan-out, each sorted by client id.
template <class Result>
struct fan_in {
  std::vector<std::uint32_t> accepted;                  ///< ids whose result was accepted
  std::vector<std::pair<std::uint32_t, Result>> results; ///< only when the fan-out keeps them
  std::vector<failure> failures;
};

inline caf::duration seconds(double s) {
  return caf::duration{std::chrono::microseconds(static_cast<std::int64_t>(s * 1e6))};
}

/// Sends `make(peer)` as a request to every peer with a deadline of `timeout_s`, and calls
/// `done` exactly once when every request has answered, failed or timed out. `accept` sees
/// each result as it arrives and may refuse it (returning a reason, recorded as a failure):
/// aggregators consume results there, so with `keep == false` no result is held until the
/// end. `on_each` sees every settled request (for progress). Lists are sorted by id.
template <class Result, class Self>
void fan_out(Self* self, const std::vector<peer>& peers, double timeout_s,
             std::function<caf::message(const peer&)> make,
             std::function<void(fan_in<Result>&)> done,
             std::function<std::string(std::uint32_t, Result&)> accept = {},
             std::function<void()> on_each = {}, bool keep = true) {
  // Every actor that fans out keeps a down_watch in its state and routes DOWN messages to it.
  down_watch* watch = &self->state.watch;
  struct collector {
    fan_in<Result> in;
    std::size_t pending = 0;
    std::function<void(fan_in<Result>&)> done;
    std::function<void()> on_each;
    std::set<std::uint32_t> settled; // a request settles once: by answer, error or DOWN
    bool first(std::uint32_t id) { return settled.insert(id).second; }
    void settle() {
      if (on_each)
        on_each();
      if (--pending > 0)
        return;
      std::sort(in.results.begin(), in.results.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      std::sort(in.accepted.begin(), in.accepted.end());
      std::sort(in.failures.begin(), in.failures.end(),
                [](const failure& a, const failure& b) { return a.id < b.id; });
      done(in);
    }
  };
  auto state = std::make_shared<collector>();
  state->pending = peers.size();
  state->done = std::move(done);
  state->on_each = std::move(on_each);
  if (peers.empty()) {
    state->done(state->in);
    return;
  }
  for (const auto& p : peers) {
    auto id = p.id;
    if (!p.handle) {
      state->first(id);
      state->in.failures.push_back({id, "no actor (its node is gone)"});
      state->settle();
      continue;
    }
    auto addr = p.handle.address();
    if (auto why = watch->gone(addr)) {
      state->first(id);
      state->in.failures.push_back({id, "gone: " + *why});
      state->settle();
      continue;
    }
    watch->ensure_monitored(self, p.handle);
    auto ticket = watch->watch(addr, [state, id](const std::string& reason) {
      if (!state->first(id))
        return;
      state->in.failures.push_back({id, "gone: " + reason});
      state->settle();
    });
    self->request(p.handle, seconds(timeout_s), make(p))
      .then(
        [state, id, accept, keep, watch, addr, ticket](Result& r) {
          watch->forget(addr, ticket);
          if (!state->first(id))
            return;
          std::string reason = accept ? accept(id, r) : std::string{};
          if (reason.empty()) {
            state->in.accepted.push_back(id);
            if (keep)
              state->in.results.emplace_back(id, std::move(r));
          } else {
            state->in.failures.push_back({id, reason});
          }
          state->settle();
        },
        [self, state, id, watch, addr, ticket](caf::error& err) {
          watch->forget(addr, ticket);
          if (!state->first(id))
            return;
          state->in.failures.push_back({id, self->system().render(err)});
          state->settle();
        });
  }
}

/// The number of answers a round needs: ceil(quorum * asked), at least one.
inline std::size_t quorum_of(std::size_t asked, double quorum) {
  auto need = static_cast<std::size_t>(std::ceil(quorum * static_cast<double>(asked) - 1e-9));
  return std::max<std::size_t>(1, need);
}

} // namespace flotilla::actors
