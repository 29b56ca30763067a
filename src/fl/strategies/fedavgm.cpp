#include "fl/strategies/fedavgm.hpp"

namespace flotilla::fl {

const std::vector<knob_spec>& fedavgm::knobs() {
  static const std::vector<knob_spec> k{
    {"server_lr", 0, 0, 100, false, false, "server step size on the momentum (0: 1.0)"},
    {"server_momentum", 0.9, 0, 0.999, false, false, "server momentum: v <- momentum * v + (w - mean)"},
  };
  return k;
}

fedavgm::fedavgm(strategy_options options) : strategy(std::move(options)) {
  lr_ = options_.knob("server_lr");
  if (lr_ == 0)
    lr_ = options_.knobs["server_lr"] = default_server_lr;
  momentum_ = options_.knob("server_momentum");
}

std::vector<float> fedavgm::aggregate(std::uint32_t, const std::vector<float>& current, const round_updates& updates) {
  auto mean = updates.mean();
  if (!velocity_.empty() && velocity_.size() != current.size())
    throw strategy_error("fedavgm: the restored velocity has " + std::to_string(velocity_.size()) +
                         " weights, the model " + std::to_string(current.size()));
  if (velocity_.empty())
    velocity_.assign(current.size(), 0.0f);
  const double beta = momentum_, lr = lr_;
  for (std::size_t i = 0; i < current.size(); ++i) {
    double d = static_cast<double>(current[i]) - static_cast<double>(mean[i]);
    velocity_[i] = static_cast<float>(beta * static_cast<double>(velocity_[i]) + d);
    mean[i] = static_cast<float>(static_cast<double>(current[i]) - lr * static_cast<double>(velocity_[i]));
  }
  ++steps_;
  return mean;
}

strategy_state fedavgm::state() const {
  strategy_state s{options_.name, steps_, {}};
  if (!velocity_.empty())
    s.buffers.push_back(velocity_);
  return s;
}

void fedavgm::restore_checked(const strategy_state& s) {
  steps_ = s.steps;
  velocity_ = s.buffers.empty() ? std::vector<float>{} : s.buffers.front();
}

} // namespace flotilla::fl
