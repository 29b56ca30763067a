#pragma once
// How an error ends the process: its exit code and the line printed for it. One mapping for
// every error class below the command line (app adds its own few and defers to this one), so
// main and the shutdown watchdog cannot disagree.
#include <exception>
#include <string>

namespace flotilla::runtime {

/// An exit code and the message to print after "flotilla: ".
struct exit_status {
  int code = 0;
  std::string message;
};

/// The exit status of an exception of any class that config, data, model, net, common and
/// runtime throw; anything else is exit_code::other with its what().
exit_status exit_status_of(const std::exception_ptr& e);

} // namespace flotilla::runtime
