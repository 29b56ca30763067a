#pragma once
#include <stdexcept>

namespace flotilla::model {

/// An unknown model, a weight buffer that does not fit the model, or a diverged training.
class model_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace flotilla::model
