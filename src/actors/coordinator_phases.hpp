#pragma once
// The coordinator's phases, one behaviour each (the diagram is in coordinator.hpp), and the
// steps they share. Internal to the coordinator's .cpp files.
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "actors/coordinator.hpp"
#include "actors/errors.hpp"
#include "actors/fan_out.hpp"
#include "actors/round_engine.hpp"
#include "fl/checkpoint.hpp"

namespace flotilla::actors::phases {

caf::message_handler initial(coordinator_actor* self);
caf::message_handler clustering(coordinator_actor* self);
caf::message_handler selection(coordinator_actor* self);
caf::message_handler cluster_rounds(coordinator_actor* self);
caf::message_handler evaluation(coordinator_actor* self);

/// What the coordinator handles in every phase: late clients arriving with a joining node.
caf::message_handler common(coordinator_actor* self);

/// Switches to `phase` and starts it with a `next` message. `next` has one shape in every
/// phase (the round to go on with; 0 for a phase's first step), so a phase can never drop the
/// message that starts it.
inline void enter(coordinator_actor* self, caf::message_handler (*phase)(coordinator_actor*)) {
  self->become(phase(self).or_else(common(self)));
  self->send(self, next_atom::value, std::uint32_t{0});
}

/// The run's clock in seconds (round records' sim_time_s): under clock=wall the wall time since the
/// run began (a resume goes on from its checkpoint's), under clock=virtual `simulated` itself.
inline double run_clock(coordinator_actor* self, double simulated) {
  const auto& st = self->state;
  if (st.opt.clock)
    return simulated;
  return st.wall_offset + std::chrono::duration<double>(std::chrono::steady_clock::now() - st.run_start).count();
}

/// The global model on this node's test set; `cb` gets the summary (its error set on failure).
void evaluate_on_test_set(coordinator_actor* self, const weight_blob& model, std::function<void(eval_summary)> cb);

/// strategy.mode=buffered|async (clock=virtual): initial steps 1 .. rounds.initial - 1 (see
/// coordinator_async.cpp); then `next` with the last initial round.
void async_initial_steps(coordinator_actor* self);
/// Whether asynchronous steps ran and are over (the round that follows ends the phase).
bool async_steps_over(coordinator_actor* self);
/// A checkpoint during the asynchronous steps: its fits in flight and the models they were sent
/// go into `cp`; returns the oldest such version (none in flight, or no asynchronous steps: nullopt).
std::optional<std::uint64_t> async_flights(coordinator_actor* self, fl::checkpoint& cp);
/// Resume: keeps the checkpoint's fits in flight for resume_async_steps.
void keep_async_flights(coordinator_actor* self, const fl::checkpoint& cp);
/// Resume after asynchronous step `step`: the fits in flight are sent again, then the steps go on.
void resume_async_steps(coordinator_actor* self, std::uint64_t step);

/// Ends the run with an error the caller of `run` receives.
inline void fail_run(coordinator_actor* self, errc code, const std::string& why) {
  self->state.observer->on_warning(why);
  self->state.done.deliver(make_error(code, why));
  self->quit();
}


/// Sends the configured faults of (phase, round) to their targets and records them. In the
/// cluster phase `cluster` names the cluster starting that round: the faults of its server and
/// members apply (and those of clients in no cluster, with the lowest live cluster); a fault
/// already recorded (before a checkpoint a resume applied again) is not applied twice.
void apply_faults(coordinator_actor* self, const std::string& phase, std::uint32_t round,
                  std::uint32_t cluster = fl::no_cluster);

/// Hands cluster c to its current server (the cluster's model, strategy state and round rules),
/// demoting `demote` first when it is a client id. `then` gets "" once the server serves, else
/// why not.
void promote(coordinator_actor* self, std::uint32_t c, std::int64_t demote, std::function<void(std::string)> then);

/// Carries out the cluster phase's commands, in order; the events they lead to go back to it.
void carry_out(coordinator_actor* self, fl::phase_commands commands);

/// IFCA: every member of `clusters` evaluates each of their models; the losses go to the phase.
void ask_losses(coordinator_actor* self, std::uint32_t round, const std::vector<std::uint32_t>& clusters);

/// The late clients train once, are placed by fl::place_late_joiners and go to the phase.
void join_late_clients(coordinator_actor* self, std::uint32_t round);

/// Whether every late client has an actor (they come with joining nodes when the coordinator
/// listens); wait_for_joins calls `then` once they all have, or after rounds.timeout_s.
bool all_late_present(coordinator_actor* self);
void wait_for_joins(coordinator_actor* self, std::function<void()> then);

/// Hands the run's state to the observer as a checkpoint: `phase` rounds 1..`round` are done
/// (in the cluster phase: by every live cluster; the registry holds each one's own count).
void save_checkpoint(coordinator_actor* self, const std::string& phase, std::uint32_t round);

/// Continues a resumed run's cluster phase: every live cluster's server is promoted again and
/// the cluster continues after its own last round (or the evaluation when none is left).
void resume_cluster_phase(coordinator_actor* self);

/// The peers of cluster c's live members, by id.
std::vector<peer> member_peers(coordinator_actor* self, std::uint32_t c);

/// A client is gone (DOWN): it leaves the registry (or is remembered until it exists).
void client_lost(coordinator_actor* self, std::uint32_t id, const std::string& reason);

/// Seconds since `t`.
inline double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

} // namespace flotilla::actors::phases
