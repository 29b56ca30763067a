#pragma once
#include "fl/strategy.hpp"

namespace flotilla::fl {

/// FedAdagrad, FedAdam and FedYogi (Reddi et al. 2021, "Adaptive Federated Optimization",
/// Algorithm 2): the pseudo-gradient d = mean - w drives a server optimizer,
///   m <- beta1 * m + (1 - beta1) * d
///   v <- v + d^2                                 (adagrad)
///   v <- beta2 * v + (1 - beta2) * d^2           (adam)
///   v <- v - (1 - beta2) * d^2 * sign(v - d^2)   (yogi)
///   w <- w + server_lr * m / (sqrt(v) + tau),
/// with m = 0 and v = tau^2 before the first round, no bias correction (as in the paper). One
/// class: the three differ only in the second-moment rule.
class fedopt : public strategy {
public:
  explicit fedopt(strategy_options options);
  strategy_state state() const override;

  /// The knobs of `name` (fedadagrad, fedadam or fedyogi): server_lr, beta1, beta2 (not
  /// fedadagrad: its v only accumulates), tau.
  static const std::vector<knob_spec>& knobs(const std::string& name);

  /// server_lr when the configuration leaves it at 0: fedadam and fedyogi. Their first step
  /// moves every weight by about server_lr (m / sqrt(v) starts at sign(d)); 0.03 reaches 98% on
  /// `make run`'s setting.
  static constexpr double default_server_lr = 0.03;
  /// fedadagrad's: v only grows (no decay), so its steps shrink round by round and it needs a
  /// larger rate (0.03: 96.7%, 0.1: 98.7% on `make run`'s setting; Reddi et al. also tune
  /// Adagrad's server rate higher than Adam's and Yogi's).
  static constexpr double default_adagrad_server_lr = 0.1;

protected:
  std::vector<std::string> state_buffers() const override { return {"m", "v"}; }
  void restore_checked(const strategy_state& state) override;
  std::vector<float> aggregate(std::uint32_t round, const std::vector<float>& current,
                               const round_updates& updates) override;

private:
  enum class rule { adagrad, adam, yogi } rule_;
  double lr_ = 0, beta1_ = 0, beta2_ = 0, tau_ = 0;
  std::uint64_t steps_ = 0;
  std::vector<float> m_, v_;
};

} // namespace flotilla::fl
