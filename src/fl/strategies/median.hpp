#pragma once
#include "fl/strategies/coordinate_wise.hpp"
#include "fl/strategy.hpp"

namespace flotilla::fl {

/// FedMedian (Yin et al. 2018): the coordinate-wise median of the updates (unweighted), robust
/// to a minority of arbitrary updates.
class median : public strategy {
public:
  using strategy::strategy;
  bool keeps_updates() const override { return true; }

protected:
  std::vector<float> aggregate(std::uint32_t, const std::vector<float>&, const round_updates& updates) override {
    return coordinate_median(updates);
  }
};

} // namespace flotilla::fl
