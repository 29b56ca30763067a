#pragma once
#include "fl/strategies/fedavg.hpp"

namespace flotilla::fl {

/// FedProx (Li et al. 2020): FedAvg's aggregation; each client adds mu/2 * ||w - w_global||^2
/// to its local loss, which keeps heterogeneous clients near the global model. The strategy's
/// part is to send mu with every fit.
class fedprox : public fedavg {
public:
  using fedavg::fedavg;

protected:
  fit_config fit_config_for(std::uint32_t round) const override {
    auto c = fedavg::fit_config_for(round);
    c.proximal_mu = options_.proximal_mu;
    return c;
  }
};

} // namespace flotilla::fl
