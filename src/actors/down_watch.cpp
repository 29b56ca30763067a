#include "actors/down_watch.hpp"

namespace flotilla::actors {

std::shared_ptr<down_watch> down_watch::install(caf::event_based_actor* self,
                                                std::function<void(const caf::down_msg&)> also) {
  std::shared_ptr<down_watch> w{new down_watch(self)};
  self->set_down_handler([w, also](caf::down_msg& dm) {
    w->down(dm.source, w->self_->system().render(dm.reason));
    if (also)
      also(dm);
  });
  return w;
}

void down_watch::ensure_monitored(const caf::actor& who) {
  if (monitored_.insert(who.address()).second)
    self_->monitor(who);
}

std::uint64_t down_watch::watch(const caf::actor_addr& who, std::function<void(const std::string&)> fail) {
  auto ticket = next_++;
  waiting_[who].emplace(ticket, std::move(fail));
  return ticket;
}

void down_watch::forget(const caf::actor_addr& who, std::uint64_t ticket) {
  auto it = waiting_.find(who);
  if (it == waiting_.end())
    return;
  it->second.erase(ticket);
  if (it->second.empty())
    waiting_.erase(it);
}

void down_watch::release(const caf::actor& who, const std::string& why) {
  auto addr = who.address();
  if (monitored_.erase(addr))
    self_->demonitor(who);
  gone_.erase(addr);
  fail_waiting(addr, why);
}

const std::string* down_watch::gone(const caf::actor_addr& who) const {
  auto it = gone_.find(who);
  return it == gone_.end() ? nullptr : &it->second;
}

void down_watch::down(const caf::actor_addr& who, const std::string& reason) {
  gone_.emplace(who, reason);
  fail_waiting(who, reason);
}

void down_watch::fail_waiting(const caf::actor_addr& who, const std::string& reason) {
  auto it = waiting_.find(who);
  if (it == waiting_.end())
    return;
  auto callbacks = std::move(it->second);
  waiting_.erase(it);
  for (auto& [ticket, fail] : callbacks)
    fail(reason);
}

} // namespace flotilla::actors
