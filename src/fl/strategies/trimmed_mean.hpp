#pragma once
#include <cmath>

#include "fl/strategies/coordinate_wise.hpp"
#include "fl/strategy.hpp"

namespace flotilla::fl {

/// FedTrimmedAvg (Yin et al. 2018): per coordinate, drop the floor(trim_fraction * n) largest
/// and smallest values and average the rest (unweighted).
class trimmed_mean : public strategy {
public:
  explicit trimmed_mean(strategy_options options)
      : strategy(std::move(options)), fraction_(options_.knob("trim_fraction")) {}
  bool keeps_updates() const override { return true; }

  /// trim_fraction.
  static const std::vector<knob_spec>& knobs() {
    static const std::vector<knob_spec> k{
      {"trim_fraction", 0.2, 0, 0.49, false, false, "share of the values cut at each end, per coordinate"},
    };
    return k;
  }

  std::string cannot_aggregate(const round_updates& updates) const override {
    auto n = updates.count();
    if (n == 0)
      return "no update to aggregate";
    if (2 * cut(n) >= n)
      return "trim_fraction " + std::to_string(fraction_) + " cuts all of " + std::to_string(n) +
             " updates";
    return {};
  }

  std::string cannot_ever_aggregate(std::size_t n) const override {
    if (n > 0 && 2 * cut(n) >= n)
      return "trim_fraction " + std::to_string(fraction_) + " cuts all of the " + std::to_string(n) +
             " updates of a round; lower strategy.trim_fraction below 0.5";
    return {};
  }

protected:
  std::vector<float> aggregate(std::uint32_t, const std::vector<float>&, const round_updates& updates) override {
    return coordinate_trimmed_mean(updates, cut(updates.count()));
  }

private:
  std::size_t cut(std::size_t n) const {
    return static_cast<std::size_t>(std::floor(fraction_ * static_cast<double>(n) + 1e-9));
  }

  double fraction_;
};

} // namespace flotilla::fl
