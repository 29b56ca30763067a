#pragma once
#include <cstdint>

namespace flotilla::model {

/// What one local training returns.
struct train_metrics {
  double loss = 0;          ///< mean training loss over the last epoch
  std::uint64_t samples = 0; ///< sample-passes done (samples x epochs)
  double seconds = 0;       ///< wall time
  double cpu_seconds = 0;   ///< CPU time of the training thread
};

/// What one evaluation returns.
struct eval_metrics {
  double loss = 0;
  double accuracy = 0;       ///< in [0, 1]
  std::uint64_t samples = 0;
};

} // namespace flotilla::model
