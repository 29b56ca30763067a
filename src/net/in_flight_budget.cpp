#include "net/in_flight_budget.hpp"

#include <algorithm>

namespace flotilla::net {

bool in_flight_budget::reserve_or_wait(std::uint64_t who, std::size_t bytes) {
  if (waiters_.empty() && bytes <= limit_ - used_) {
    used_ += bytes;
    return true;
  }
  waiters_.emplace_back(who, bytes);
  return false;
}

std::vector<std::uint64_t> in_flight_budget::grant_waiters() {
  std::vector<std::uint64_t> granted;
  while (!waiters_.empty() && waiters_.front().second <= limit_ - used_) {
    used_ += waiters_.front().second;
    granted.push_back(waiters_.front().first);
    waiters_.pop_front();
  }
  return granted;
}

std::vector<std::uint64_t> in_flight_budget::release(std::size_t bytes) {
  used_ -= std::min(bytes, used_);
  return grant_waiters();
}

std::vector<std::uint64_t> in_flight_budget::cancel(std::uint64_t who) {
  waiters_.erase(std::remove_if(waiters_.begin(), waiters_.end(), [who](const auto& w) { return w.first == who; }),
                 waiters_.end());
  return grant_waiters();
}

} // namespace flotilla::net
