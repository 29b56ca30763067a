#pragma once
#include <cstdint>
#include <string>

namespace flotilla::fl {

/// Which strategy aggregates and its knobs (config `strategy.*`); each strategy reads the
/// keys it needs and ignores the others.
struct strategy_options {
  std::string name;            ///< fedavg | fedavgm | fedprox | fedadagrad | fedadam | fedyogi |
                               ///< median | trimmed_mean | krum
  double server_lr = 0;        ///< server step size (0: the strategy's own default)
  double server_momentum = 0;  ///< fedavgm
  double proximal_mu = 0;      ///< fedprox
  double beta1 = 0, beta2 = 0; ///< fedadagrad / fedadam / fedyogi
  double tau = 0;              ///< adaptivity (eps) of the server optimizers
  double trim_fraction = 0;    ///< trimmed_mean: share cut at each end
  std::uint32_t byzantine = 0; ///< krum: f, the Byzantine clients tolerated
  std::uint32_t multi_krum = 0; ///< krum: m, updates averaged (1 = Krum)
};

} // namespace flotilla::fl
