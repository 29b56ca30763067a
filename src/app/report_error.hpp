#pragma once
#include <stdexcept>

namespace flotilla::app {

/// A run directory cannot be reported on: a file is missing, is not valid JSON, or cannot be
/// written. The message names the file and says what to do.
class report_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace flotilla::app
