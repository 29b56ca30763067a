#include "fl/strategies/fedavgm.hpp"

namespace flotilla::fl {

fedavgm::fedavgm(strategy_options options) : strategy(std::move(options)) {
  if (options_.server_lr == 0)
    options_.server_lr = default_server_lr;
}

std::vector<float> fedavgm::aggregate(std::uint32_t, const std::vector<float>& current, const round_updates& updates) {
  auto mean = updates.mean();
  if (!velocity_.empty() && velocity_.size() != current.size())
    throw strategy_error("fedavgm: the restored velocity has " + std::to_string(velocity_.size()) +
                         " weights, the model " + std::to_string(current.size()));
  if (velocity_.empty())
    velocity_.assign(current.size(), 0.0f);
  const double beta = options_.server_momentum, lr = options_.server_lr;
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
