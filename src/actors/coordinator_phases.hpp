#pragma once
// The coordinator's phases, one behaviour each (the diagram is in coordinator.hpp). Internal
// to the coordinator's .cpp files.
#include <chrono>
#include <string>

#include "actors/coordinator.hpp"
#include "actors/errors.hpp"
#include "actors/fan_out.hpp"

namespace flotilla::actors::phases {

caf::behavior initial(coordinator_actor* self);
caf::behavior clustering(coordinator_actor* self);
caf::behavior selection(coordinator_actor* self);
caf::behavior cluster_rounds(coordinator_actor* self);
caf::behavior evaluation(coordinator_actor* self);

/// Switches to `phase` and starts it with a `next` message.
inline void enter(coordinator_actor* self, caf::behavior (*phase)(coordinator_actor*)) {
  self->become(phase(self));
  self->send(self, next_atom::value);
}

/// Ends the run with an error the caller of `run` receives.
inline void fail_run(coordinator_actor* self, errc code, const std::string& why) {
  self->state.observer->on_warning(why);
  self->state.done.deliver(make_error(code, why));
  self->quit();
}

/// When nobody's update was accepted and every failure is of a class that will not heal by
/// itself (diverged training, a node's data or configuration), the error to end the run with.
std::optional<caf::error> fatal_failure(const std::vector<failure>& failures, std::size_t accepted);

/// Seconds since `t`.
inline double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

} // namespace flotilla::actors::phases
