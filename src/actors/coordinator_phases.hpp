#pragma once
// The coordinator's phases, one behaviour each (the diagram is in coordinator.hpp), and the
// steps they share. Internal to the coordinator's .cpp files.
#include <chrono>
#include <functional>
#include <string>

#include "actors/coordinator.hpp"
#include "actors/errors.hpp"
#include "actors/fan_out.hpp"

namespace flotilla::actors::phases {

caf::message_handler initial(coordinator_actor* self);
caf::message_handler clustering(coordinator_actor* self);
caf::message_handler selection(coordinator_actor* self);
caf::message_handler cluster_rounds(coordinator_actor* self);
caf::message_handler evaluation(coordinator_actor* self);

/// What the coordinator handles in every phase: late clients arriving with a joining node.
caf::message_handler common(coordinator_actor* self);

/// Switches to `phase` and starts it with a `next` message.
inline void enter(coordinator_actor* self, caf::message_handler (*phase)(coordinator_actor*)) {
  self->become(phase(self).or_else(common(self)));
  self->send(self, next_atom::value);
}

/// Ends the run with an error the caller of `run` receives.
inline void fail_run(coordinator_actor* self, errc code, const std::string& why) {
  self->state.observer->on_warning(why);
  self->state.done.deliver(make_error(code, why));
  self->quit();
}


/// Sends the configured faults of (phase, round) to their targets (`cluster` limits server
/// targets to that cluster; no_cluster applies all) and records them.
void apply_faults(coordinator_actor* self, const std::string& phase, std::uint32_t round);

/// Promotes cluster c's current server with the cluster's model and strategy state. When that
/// fails, the server is lost and the next member is elected and promoted; `then(true)` once a
/// server serves, `then(false)` when the cluster ran out of members.
void promote(coordinator_actor* self, std::uint32_t c, std::uint32_t round, std::function<void(bool)> then);

/// Elects a new server for cluster c (reason recorded) and promotes it, as promote does.
void elect_and_promote(coordinator_actor* self, std::uint32_t c, std::uint32_t round, const std::string& reason,
                       std::function<void(bool)> then);

/// The after-round steps of the adaptive methods and late joiners; each calls `then` when done.
void apply_splits(coordinator_actor* self, std::uint32_t round, std::function<void()> then);
void reassign_by_loss(coordinator_actor* self, std::uint32_t round, std::function<void()> then);
void join_late_clients(coordinator_actor* self, std::uint32_t round, std::function<void()> then);

/// Whether every late client has an actor (they come with joining nodes when the coordinator
/// listens); wait_for_joins calls `then` once they all have, or after rounds.timeout_s.
bool all_late_present(coordinator_actor* self);
void wait_for_joins(coordinator_actor* self, std::function<void()> then);

/// Hands the run's state to the observer as a checkpoint: `phase` rounds 1..`round` are done.
void save_checkpoint(coordinator_actor* self, const std::string& phase, std::uint32_t round);

/// Continues a resumed run: re-promotes the live clusters' servers, then cluster round
/// `round` + 1 (or the evaluation when none is left).
void resume_cluster_phase(coordinator_actor* self, std::uint32_t round);

/// The peers of cluster c's live members, by id.
std::vector<peer> member_peers(coordinator_actor* self, std::uint32_t c);

/// A client is gone (DOWN): it leaves the registry (or is remembered until it exists).
void client_lost(coordinator_actor* self, std::uint32_t id, const std::string& reason);

/// Seconds since `t`.
inline double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

} // namespace flotilla::actors::phases
