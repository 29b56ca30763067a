#pragma once
#include <cstdint>

namespace flotilla::model {

/// Local SGD settings, the same for every client of a run.
struct train_options {
  std::uint32_t epochs = 1;
  std::uint32_t batch_size = 32;
  double lr = 0.05;
  double momentum = 0.5;
  double weight_decay = 0.0;
};

} // namespace flotilla::model
