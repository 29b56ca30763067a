#include "model/torch_version.hpp"

#include <torch/version.h>

namespace flotilla::model {

std::string torch_version() {
  return TORCH_VERSION;
}

} // namespace flotilla::model
