#pragma once
#include "fl/strategy.hpp"

namespace flotilla::fl {

/// FedAvg (McMahan et al. 2017): the sample-weighted mean of the updates, summed exactly, so
/// the model is bit-identical whatever order updates arrive in.
class fedavg : public strategy {
public:
  using strategy::strategy;

protected:
  std::vector<float> aggregate(std::uint32_t, const std::vector<float>&, const round_updates& updates) override {
    return updates.mean();
  }
};

} // namespace flotilla::fl
