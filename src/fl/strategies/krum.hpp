#pragma once
#include "fl/strategy.hpp"

namespace flotilla::fl {

/// Krum and Multi-Krum (Blanchard et al. 2017): each update scores the sum of its squared
/// distances to its n - f - 2 nearest other updates; the m lowest-scoring updates (ties to the
/// lower client id) are averaged by samples (m = 1: Krum picks one). Tolerates f Byzantine
/// clients when n >= 2f + 3.
class krum : public strategy {
public:
  explicit krum(strategy_options options);
  bool keeps_updates() const override { return true; }

  /// byzantine (f) and multi_krum (m), whole numbers.
  static const std::vector<knob_spec>& knobs();
  std::string cannot_aggregate(const round_updates& updates) const override;
  std::string cannot_ever_aggregate(std::size_t participants) const override;

protected:
  std::vector<float> aggregate(std::uint32_t round, const std::vector<float>& current,
                               const round_updates& updates) override;

private:
  std::size_t f_ = 0, m_ = 1;
};

/// Krum scores of `points` (each `dim` floats) for f Byzantine: per point, the sum of its
/// squared distances to its n - f - 2 nearest others. Needs n >= f + 3.
std::vector<double> krum_scores(const std::vector<const float*>& points, std::size_t dim, std::size_t f);

} // namespace flotilla::fl
