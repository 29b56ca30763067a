#pragma once
#include <stdexcept>
#include <string>

namespace flotilla::data {

/// A dataset file is missing, corrupt or inconsistent; the message says which and what to do.
class data_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace flotilla::data
