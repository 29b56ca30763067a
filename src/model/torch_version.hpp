#pragma once
#include <string>

namespace flotilla::model {

/// The libtorch version flotilla was built against (its TORCH_VERSION macro), e.g. "1.13.0".
std::string torch_version();

} // namespace flotilla::model
