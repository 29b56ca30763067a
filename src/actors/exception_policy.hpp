#pragma once
// What an exception that escapes a handler does. CAF 0.17's default prints "unhandled
// exception" and ends the actor with a reason nobody reads: a coordinator that threw left the
// run's caller waiting for ever (issue 15, finding 1). Every Flotilla actor installs this
// policy instead: the exception becomes an error of its class, which is the actor's exit reason,
// so whoever monitors the actor (the coordinator for its clients and pool, the run's caller for
// the coordinator) ends the run with that class's exit code.
#include <caf/all.hpp>

#include <exception>
#include <functional>
#include <string>

#include "actors/errors.hpp"

namespace flotilla::actors {

/// The error an exception thrown in actor `who` stands for: model and data errors keep their
/// class (exit 4, 3), anything else (std::bad_alloc, a bug) is errc::internal_error (exit 1).
caf::error error_of_exception(const std::exception_ptr& e, const std::string& who);

/// Installs the policy on `self`: an escaping exception goes to `also` (or, without one, to
/// stderr: on a node that is its only trace), and the actor ends with the error as its exit
/// reason.
void end_on_exception(caf::scheduled_actor* self, std::string who,
                      std::function<void(const caf::error&)> also = {});

/// Whether an actor that ended for `reason` takes the run with it: a model, data,
/// configuration or internal error (an injected crash or a lost node does not; the run
/// tolerates those by design).
bool ends_run(const caf::error& reason);

} // namespace flotilla::actors
