#pragma once
#include "fl/strategies/fedavg.hpp"

namespace flotilla::fl {

/// FedProx (Li et al. 2020): FedAvg's aggregation; each client adds mu/2 * ||w - w_global||^2
/// to its local loss, which keeps heterogeneous clients near the global model. The strategy's
/// part is to send mu with every fit: proximal_mu is a client-side knob, which
/// strategy::fit_config_for puts in every fit_config's values.
class fedprox : public fedavg {
public:
  using fedavg::fedavg;

  /// proximal_mu (client-side).
  static const std::vector<knob_spec>& knobs() {
    static const std::vector<knob_spec> k{
      {"proximal_mu", 0.01, 0, 100, false, true, "weight of mu/2 * ||w - w_global||^2 in each client's local loss"},
    };
    return k;
  }
};

} // namespace flotilla::fl
