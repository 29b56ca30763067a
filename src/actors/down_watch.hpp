#pragma once
// Requests to a peer that goes down fail at once, not at their deadline: CAF 0.17 never
// answers a request to an actor on a dead node.
#include <caf/all.hpp>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace flotilla::actors {

/// Owns its actor's down handler (so nothing can forget to route DOWN messages to it): every
/// peer is monitored once for the actor's lifetime, pending requests to a peer that goes down
/// are failed with the reason, and later requests to it are refused from the record.
class down_watch {
public:
  /// Installs `self`'s down handler; DOWN messages reach the watch first, then `also`.
  static std::shared_ptr<down_watch> install(caf::event_based_actor* self,
                                             std::function<void(const caf::down_msg&)> also = {});

  /// Monitors `who` the first time it is seen.
  void ensure_monitored(const caf::actor& who);
  /// Calls `fail(reason)` if `who` goes down before `forget(who, ticket)`.
  std::uint64_t watch(const caf::actor_addr& who, std::function<void(const std::string&)> fail);
  void forget(const caf::actor_addr& who, std::uint64_t ticket);
  /// Stops watching `who` for good (an actor let go on purpose, e.g. a sampled client after its
  /// round): no DOWN from it reaches the handler, and the watch keeps no reference to it, so its
  /// memory can go. Pending requests to it, if any, are failed with `why`.
  void release(const caf::actor& who, const std::string& why);
  /// Why `who` went down, or null while it is up.
  const std::string* gone(const caf::actor_addr& who) const;

  caf::event_based_actor* self() const { return self_; }

private:
  explicit down_watch(caf::event_based_actor* self) : self_(self) {}
  void down(const caf::actor_addr& who, const std::string& reason);
  /// Fails every pending request to `who` with `reason`.
  void fail_waiting(const caf::actor_addr& who, const std::string& reason);

  caf::event_based_actor* self_;
  std::uint64_t next_ = 0;
  std::set<caf::actor_addr> monitored_;
  std::map<caf::actor_addr, std::string> gone_;
  std::map<caf::actor_addr, std::map<std::uint64_t, std::function<void(const std::string&)>>> waiting_;
};

} // namespace flotilla::actors
