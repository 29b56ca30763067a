#pragma once
// The one place the command line turns an error into an exit code and a message: its own
// classes (checkpoints, report inputs, report usage) here, every other class through
// runtime::exit_status_of, which the shutdown watchdog uses too.
#include <exception>

#include "runtime/exit_status.hpp"

namespace flotilla::app {

/// The exit status for an exception of any class (README "Exit codes").
runtime::exit_status exit_status_of(const std::exception_ptr& e);

} // namespace flotilla::app
