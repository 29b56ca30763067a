#pragma once
#include <stdexcept>

namespace flotilla::report {

/// A run directory cannot be reported on: a file is missing, is not valid JSON, or cannot be
/// written. The message names the file and says what to do.
class report_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// `flotilla report` was called wrongly (no run directory, an unknown option); the message
/// says how to call it. Kept apart from report_error so the program can exit with its usage
/// code.
class report_usage_error : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

} // namespace flotilla::report
