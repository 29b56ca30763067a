#include "fl/strategies/fedopt.hpp"

#include <cmath>

namespace flotilla::fl {

fedopt::fedopt(strategy_options options) : strategy(std::move(options)) {
  if (options_.name == "fedadagrad")
    rule_ = rule::adagrad;
  else if (options_.name == "fedadam")
    rule_ = rule::adam;
  else if (options_.name == "fedyogi")
    rule_ = rule::yogi;
  else
    throw strategy_error("fedopt: '" + options_.name + "' is not fedadagrad, fedadam or fedyogi");
  if (options_.server_lr == 0)
    options_.server_lr = rule_ == rule::adagrad ? default_adagrad_server_lr : default_server_lr;
}

std::vector<float> fedopt::aggregate(std::uint32_t, const std::vector<float>& current, const round_updates& updates) {
  auto next = updates.mean();
  const double b1 = options_.beta1, b2 = options_.beta2, tau = options_.tau, lr = options_.server_lr;
  if (!m_.empty() && m_.size() != current.size())
    throw strategy_error(options_.name + ": the restored moments have " + std::to_string(m_.size()) +
                         " weights, the model " + std::to_string(current.size()));
  if (m_.empty()) {
    m_.assign(current.size(), 0.0f);
    v_.assign(current.size(), static_cast<float>(tau * tau));
  }
  for (std::size_t i = 0; i < current.size(); ++i) {
    double w = current[i];
    double d = static_cast<double>(next[i]) - w;
    double m = b1 * m_[i] + (1 - b1) * d;
    double v = v_[i], d2 = d * d;
    switch (rule_) {
      case rule::adagrad:
        v = v + d2;
        break;
      case rule::adam:
        v = b2 * v + (1 - b2) * d2;
        break;
      case rule::yogi:
        v = v - (1 - b2) * d2 * (v > d2 ? 1.0 : v < d2 ? -1.0 : 0.0);
        break;
    }
    m_[i] = static_cast<float>(m);
    v_[i] = static_cast<float>(v);
    next[i] = static_cast<float>(w + lr * m / (std::sqrt(v) + tau));
  }
  ++steps_;
  return next;
}

strategy_state fedopt::state() const {
  strategy_state s{options_.name, steps_, {}};
  if (!m_.empty())
    s.buffers = {m_, v_};
  return s;
}

void fedopt::restore_checked(const strategy_state& s) {
  steps_ = s.steps;
  m_ = s.buffers.empty() ? std::vector<float>{} : s.buffers[0];
  v_ = s.buffers.empty() ? std::vector<float>{} : s.buffers[1];
}

} // namespace flotilla::fl
