#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

namespace flotilla::net {

/// Bytes that CAF may hold for messages it has started but not finished receiving, summed
/// over all connections. CAF 0.17 allocates a message's whole payload when it reads the
/// header, so the guard reserves payload_len here before it passes a header on and releases
/// it once the last payload byte went to CAF. Requests are served first come, first served,
/// so a large message is not starved by small ones. Not thread-safe: one guard thread owns it.
class in_flight_budget {
public:
  explicit in_flight_budget(std::size_t limit) : limit_(limit) {}

  /// Reserves `bytes` for `who` and returns true, or queues `who` and returns false; a queued
  /// request is granted by a later release(). `bytes` above the limit is never granted.
  bool reserve_or_wait(std::uint64_t who, std::size_t bytes);

  /// Returns `bytes` and grants queued requests in order while they fit; returns their ids.
  std::vector<std::uint64_t> release(std::size_t bytes);

  /// Drops a queued request of `who` (its connection closed); grants what then fits.
  std::vector<std::uint64_t> cancel(std::uint64_t who);

  std::size_t used() const { return used_; }
  std::size_t limit() const { return limit_; }
  std::size_t waiting() const { return waiters_.size(); }

private:
  std::vector<std::uint64_t> grant_waiters();

  std::size_t limit_;
  std::size_t used_ = 0;
  std::deque<std::pair<std::uint64_t, std::size_t>> waiters_;
};

} // namespace flotilla::net
