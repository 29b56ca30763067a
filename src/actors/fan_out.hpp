#pragma once
// One request to many peers, settled into results and failures (Flower's two lists). Used by
// the round engine at every aggregation point and by the coordinator's other phases.
#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "actors/down_watch.hpp"
#include "actors/errors.hpp"
#include "actors/protocol.hpp"

namespace flotilla::actors {

/// A request that produced no usable result: who, why, and the error code when the peer
/// answered with one of ours (nullopt for timeouts, DOWN, refused results).
struct failure {
  std::uint32_t id = 0;
  std::string reason;
  std::optional<errc> code;
  bool alive = false; ///< it answered and is reachable (left out of a secure sum): evaluations still ask it
};

/// Results and failures of one fan-out, each sorted by client id.
template <class Result>
struct fan_in {
  std::vector<std::uint32_t> accepted;                  ///< ids whose result was accepted
  std::vector<std::pair<std::uint32_t, Result>> results; ///< kept results (see fan_out_hooks::keep)
  std::vector<failure> failures;
};

/// Optional parts of a fan-out.
template <class Result>
struct fan_out_hooks {
  /// Sees each result as it arrives and may refuse it (returning the reason): aggregators fold
  /// updates in here, so with `keep == false` no result is held until the end.
  std::function<std::string(std::uint32_t, Result&)> accept;
  /// Like accept, but may take its time (fetching a large update): calls `settle` exactly once
  /// with the reason to refuse (empty: accepted) and its class (bad_update for a refused update,
  /// round_failed for a transfer that broke off). Takes precedence over accept when set.
  std::function<void(std::uint32_t, Result&, std::function<void(std::string, errc)> settle)> accept_async;
  /// Called after every settled request (progress).
  std::function<void(std::size_t settled, std::size_t total)> on_each;
  bool keep = true;
};

/// A request deadline of `s` seconds, in CAF's type.
inline caf::duration deadline(double s) {
  return caf::duration{std::chrono::microseconds(static_cast<std::int64_t>(s * 1e6))};
}

/// `s` seconds for delayed sends.
inline std::chrono::microseconds after(double s) {
  return std::chrono::microseconds(static_cast<std::int64_t>(s * 1e6));
}

/// Sends `make(peer)` (a tuple: the atom and its arguments) as a request to every peer with a
/// deadline of `timeout_s` and calls `done` exactly once, when every request has answered,
/// failed, timed out or lost its peer (through `watch`, which owns the actor's down handler).
/// Lists are sorted by id. The request goes through the peer's typed handle (client_handle):
/// a request the client does not take, or a Result it does not answer with, does not compile.
template <class Result, class Make>
void fan_out(down_watch& watch, const std::vector<peer>& peers, double timeout_s, Make make,
             std::function<void(fan_in<Result>&)> done, fan_out_hooks<Result> hooks = {}) {
  auto* self = watch.self();
  struct collector {
    fan_in<Result> in;
    std::size_t total = 0, settled_count = 0;
    std::function<void(fan_in<Result>&)> done;
    fan_out_hooks<Result> hooks;
    std::set<std::uint32_t> settled; // a request settles once: by answer, error or DOWN
    bool first(std::uint32_t id) { return settled.insert(id).second; }
    void fail(std::uint32_t id, std::string reason, std::optional<errc> code = std::nullopt) {
      in.failures.push_back({id, std::move(reason), code});
      settle();
    }
    void settle() {
      ++settled_count;
      if (hooks.on_each)
        hooks.on_each(settled_count, total);
      if (settled_count < total)
        return;
      auto by_id = [](const auto& a, const auto& b) { return a.first < b.first; };
      std::sort(in.results.begin(), in.results.end(), by_id);
      std::sort(in.accepted.begin(), in.accepted.end());
      std::sort(in.failures.begin(), in.failures.end(), [](const failure& a, const failure& b) { return a.id < b.id; });
      done(in);
    }
  };
  auto st = std::make_shared<collector>();
  st->total = peers.size();
  st->done = std::move(done);
  st->hooks = std::move(hooks);
  if (peers.empty()) {
    st->done(st->in);
    return;
  }
  auto* w = &watch;
  for (const auto& p : peers) {
    auto id = p.id;
    if (!p.handle) {
      st->first(id);
      st->fail(id, "no actor (its node is gone)");
      continue;
    }
    auto addr = p.handle.address();
    if (auto why = w->gone(addr)) {
      st->first(id);
      st->fail(id, "gone: " + *why);
      continue;
    }
    w->ensure_monitored(caf::actor_cast<caf::actor>(p.handle));
    auto ticket = w->watch(addr, [st, id](const std::string& reason) {
      if (st->first(id))
        st->fail(id, "gone: " + reason);
    });
    std::apply([&](auto&&... xs) { return self->request(p.handle, deadline(timeout_s), std::move(xs)...); }, make(p))
      .then(
        [st, id, w, addr, ticket](Result& r) {
          w->forget(addr, ticket);
          if (!st->first(id))
            return;
          if (st->hooks.accept_async) {
            auto held = std::make_shared<Result>(std::move(r));
            st->hooks.accept_async(id, *held, [st, id, held](std::string reason, errc code) {
              if (!reason.empty())
                return st->fail(id, reason, code);
              st->in.accepted.push_back(id);
              if (st->hooks.keep)
                st->in.results.emplace_back(id, std::move(*held));
              st->settle();
            });
            return;
          }
          std::string reason = st->hooks.accept ? st->hooks.accept(id, r) : std::string{};
          if (!reason.empty())
            return st->fail(id, reason, errc::bad_update);
          st->in.accepted.push_back(id);
          if (st->hooks.keep)
            st->in.results.emplace_back(id, std::move(r));
          st->settle();
        },
        [self, st, id, w, addr, ticket](caf::error& err) {
          w->forget(addr, ticket);
          if (st->first(id))
            st->fail(id, text_of(self->system(), err), code_of(err));
        });
  }
}

/// The number of answers a round needs: ceil(quorum * asked), at least one.
inline std::size_t quorum_of(std::size_t asked, double quorum) {
  auto need = static_cast<std::size_t>(std::ceil(quorum * static_cast<double>(asked) - 1e-9));
  return std::max<std::size_t>(1, need);
}

} // namespace flotilla::actors
