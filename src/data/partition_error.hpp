#pragma once
#include <stdexcept>

namespace flotilla::data {

/// The partition options cannot be met; the message names the config keys to change. A
/// configuration problem, so it derives from std::invalid_argument like the other option errors.
class partition_error : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

} // namespace flotilla::data
