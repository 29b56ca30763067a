#pragma once
#include "fl/strategy.hpp"

namespace flotilla::fl {

/// FedAvgM (Hsu et al. 2019): server momentum on the pseudo-gradient d = w - mean:
/// v <- momentum * v + d, w <- w - server_lr * v. With momentum 0 and server_lr 1 it is FedAvg.
class fedavgm : public strategy {
public:
  explicit fedavgm(strategy_options options);
  strategy_state state() const override;

  /// server_lr and server_momentum.
  static const std::vector<knob_spec>& knobs();

  /// server_lr when the configuration leaves it at 0.
  static constexpr double default_server_lr = 1.0;

protected:
  std::vector<std::string> state_buffers() const override { return {"velocity"}; }
  void restore_checked(const strategy_state& state) override;
  std::vector<float> aggregate(std::uint32_t round, const std::vector<float>& current,
                               const round_updates& updates) override;

private:
  double lr_ = 0, momentum_ = 0;
  std::uint64_t steps_ = 0;
  std::vector<float> velocity_;
};

} // namespace flotilla::fl
