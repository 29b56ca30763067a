#include "fl/strategies/krum.hpp"

#include <algorithm>
#include <numeric>

namespace flotilla::fl {

std::vector<double> krum_scores(const std::vector<const float*>& points, std::size_t dim, std::size_t f) {
  auto n = points.size();
  std::vector<std::vector<double>> d(n, std::vector<double>(n, 0.0));
  for (std::size_t a = 0; a < n; ++a)
    for (std::size_t b = a + 1; b < n; ++b) {
      double s = 0;
      for (std::size_t i = 0; i < dim; ++i) {
        double x = static_cast<double>(points[a][i]) - static_cast<double>(points[b][i]);
        s += x * x;
      }
      d[a][b] = d[b][a] = s;
    }
  auto nearest = n - f - 2;
  std::vector<double> scores(n);
  for (std::size_t a = 0; a < n; ++a) {
    std::vector<double> others;
    for (std::size_t b = 0; b < n; ++b)
      if (b != a)
        others.push_back(d[a][b]);
    std::sort(others.begin(), others.end());
    scores[a] = std::accumulate(others.begin(), others.begin() + static_cast<long>(nearest), 0.0);
  }
  return scores;
}

const std::vector<knob_spec>& krum::knobs() {
  static const std::vector<knob_spec> k{
    {"byzantine", 0, 0, 100000, true, false, "f: the Byzantine clients tolerated (needs n >= 2f + 3)"},
    {"multi_krum", 1, 1, 100000, true, false, "m: the lowest-scoring updates averaged (1: Krum)"},
  };
  return k;
}

// The base constructor has checked both are whole numbers in range.
krum::krum(strategy_options options)
    : strategy(std::move(options)), f_(static_cast<std::size_t>(options_.knob("byzantine"))),
      m_(static_cast<std::size_t>(options_.knob("multi_krum"))) {}

std::string krum::cannot_aggregate(const round_updates& updates) const {
  auto n = updates.count();
  auto f = f_;
  if (n < 2 * f + 3)
    return "Krum with f = " + std::to_string(f) + " needs at least " + std::to_string(2 * f + 3) +
           " updates, the round has " + std::to_string(n);
  if (m_ < 1 || m_ > n - f)
    return "Multi-Krum m = " + std::to_string(m_) + " must be 1 to n - f = " +
           std::to_string(n - f);
  return {};
}

std::string krum::cannot_ever_aggregate(std::size_t n) const {
  auto f = f_;
  auto m = m_;
  if (n == 0)
    return {}; // nobody to ask: the round engine says so, whatever the strategy
  if (n < 2 * f + 3) {
    // The largest f that n participants allow: n >= 2f + 3.
    auto what = n >= 3 ? "lower strategy.byzantine to at most " + std::to_string((n - 3) / 2)
                       : std::string("Krum needs at least 3 clients per round, even with strategy.byzantine = 0");
    return "Krum with f = " + std::to_string(f) + " needs at least " + std::to_string(2 * f + 3) +
           " updates per round (n >= 2f + 3), but the round asks " + std::to_string(n) + " clients; " + what;
  }
  if (m < 1 || m > n - f)
    return "Multi-Krum m = " + std::to_string(m) + " must be 1 to n - f = " + std::to_string(n - f) +
           " for a round of " + std::to_string(n) + " clients; lower strategy.multi_krum";
  return {};
}

std::vector<float> krum::aggregate(std::uint32_t, const std::vector<float>&, const round_updates& updates) {
  std::vector<const float*> points;
  std::vector<const client_update*> order;
  for (const auto& [id, u] : updates.kept()) {
    points.push_back(u.weights->data());
    order.push_back(&u);
  }
  auto scores = krum_scores(points, updates.model_size(), f_);
  std::vector<std::size_t> rank(points.size());
  std::iota(rank.begin(), rank.end(), 0);
  // Stable: equal scores keep client-id order.
  std::stable_sort(rank.begin(), rank.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  fedavg_accumulator acc(updates.model_size());
  for (std::size_t i = 0; i < m_; ++i)
    acc.add(order[rank[i]]->samples, *order[rank[i]]->weights);
  return acc.mean();
}

} // namespace flotilla::fl
