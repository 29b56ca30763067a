#include "fl/strategies/coordinate_wise.hpp"

#include <algorithm>

namespace flotilla::fl {

namespace {

std::vector<const float*> columns(const round_updates& updates) {
  std::vector<const float*> out;
  for (const auto& [id, u] : updates.kept())
    out.push_back(u.weights->data());
  return out;
}

} // namespace

std::vector<float> coordinate_trimmed_mean(const round_updates& updates, std::size_t cut) {
  auto cols = columns(updates);
  auto n = cols.size();
  std::vector<float> out(updates.model_size());
  std::vector<float> values(n);
  for (std::size_t i = 0; i < out.size(); ++i) {
    for (std::size_t c = 0; c < n; ++c)
      values[c] = cols[c][i];
    std::sort(values.begin(), values.end());
    double sum = 0;
    for (std::size_t c = cut; c < n - cut; ++c)
      sum += values[c];
    out[i] = static_cast<float>(sum / static_cast<double>(n - 2 * cut));
  }
  return out;
}

std::vector<float> coordinate_median(const round_updates& updates) {
  auto n = updates.kept().size();
  // The median is the trimmed mean that keeps the middle one (odd n) or two (even n).
  return coordinate_trimmed_mean(updates, (n - 1) / 2);
}

} // namespace flotilla::fl
