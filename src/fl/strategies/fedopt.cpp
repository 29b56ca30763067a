#include "fl/strategies/fedopt.hpp"

#include <cmath>

namespace flotilla::fl {

const std::vector<knob_spec>& fedopt::knobs(const std::string& name) {
  const knob_spec lr{"server_lr", 0, 0, 100, false, false,
                     "server step size (0: 0.1 for fedadagrad, 0.03 for fedadam and fedyogi)"};
  const knob_spec beta1{"beta1", 0.9, 0, 0.999999, false, false, "decay of the first moment m"};
  const knob_spec beta2{"beta2", 0.99, 0, 0.999999, false, false, "decay of the second moment v"};
  const knob_spec tau{"tau", 0.001, 1e-12, 10, false, false, "adaptivity: v starts at tau^2, steps divide by sqrt(v) + tau"};
  static const std::vector<knob_spec> adagrad{lr, beta1, tau}, others{lr, beta1, beta2, tau};
  if (name == "fedadagrad")
    return adagrad;
  if (name == "fedadam" || name == "fedyogi")
    return others;
  throw strategy_error("fedopt: '" + name + "' is not fedadagrad, fedadam or fedyogi");
}

fedopt::fedopt(strategy_options options) : strategy(std::move(options)) {
  if (options_.name == "fedadagrad")
    rule_ = rule::adagrad;
  else if (options_.name == "fedadam")
    rule_ = rule::adam;
  else if (options_.name == "fedyogi")
    rule_ = rule::yogi;
  else
    throw strategy_error("fedopt: '" + options_.name + "' is not fedadagrad, fedadam or fedyogi");
  lr_ = options_.knob("server_lr");
  if (lr_ == 0)
    lr_ = options_.knobs["server_lr"] = rule_ == rule::adagrad ? default_adagrad_server_lr : default_server_lr;
  beta1_ = options_.knob("beta1");
  beta2_ = rule_ == rule::adagrad ? 0 : options_.knob("beta2");
  tau_ = options_.knob("tau");
}

std::vector<float> fedopt::aggregate(std::uint32_t, const std::vector<float>& current, const round_updates& updates) {
  auto next = updates.mean();
  const double b1 = beta1_, b2 = beta2_, tau = tau_, lr = lr_;
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
