#include "fl/small_clusters.hpp"

#include "fl/strategy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace flotilla::fl {

std::size_t secure_cluster_size(std::size_t min_cluster, double fraction_fit, double stragglers, bool keep_stragglers,
                                std::size_t limit) {
  for (std::size_t size = min_cluster + 1; size < limit; ++size) {
    auto asked = participants_of(size, fraction_fit);
    if (stragglers > 0 && !keep_stragglers)
      asked -= std::min(asked, static_cast<std::size_t>(std::lround(std::min(1.0, stragglers) * asked)));
    if (asked >= min_cluster + 1)
      return size;
  }
  return limit;
}

std::uint32_t merge_small_clusters(std::vector<std::uint32_t>& assignment, const std::vector<const float*>& points,
                                   std::size_t dim, std::uint32_t k, std::size_t min_size) {
  if (assignment.size() != points.size())
    throw std::invalid_argument("merge_small_clusters: " + std::to_string(assignment.size()) + " labels for " +
                                std::to_string(points.size()) + " points");
  for (auto a : assignment)
    if (a >= k)
      throw std::invalid_argument("merge_small_clusters: label " + std::to_string(a) + " is not below k = " +
                                  std::to_string(k));
  if (k == 0 || assignment.empty())
    return k;
  // Per cluster: its size and the sum of its points (the centroid is sum / size), in double.
  std::vector<std::size_t> size(k, 0);
  std::vector<std::vector<double>> sum(k, std::vector<double>(dim, 0.0));
  for (std::size_t i = 0; i < points.size(); ++i) {
    ++size[assignment[i]];
    for (std::size_t d = 0; d < dim; ++d)
      sum[assignment[i]][d] += points[i][d];
  }
  std::vector<bool> alive(k);
  std::size_t live = 0;
  for (std::uint32_t c = 0; c < k; ++c)
    live += (alive[c] = size[c] > 0) ? 1 : 0;
  std::vector<std::uint32_t> into(k); // where each cluster went (itself while alive)
  for (std::uint32_t c = 0; c < k; ++c)
    into[c] = c;
  while (live > 1) {
    std::uint32_t small = k;
    for (std::uint32_t c = 0; c < k; ++c)
      if (alive[c] && size[c] < min_size && (small == k || size[c] < size[small]))
        small = c;
    if (small == k)
      break;
    std::uint32_t best = k;
    double best_d = std::numeric_limits<double>::infinity();
    for (std::uint32_t c = 0; c < k; ++c) {
      if (!alive[c] || c == small)
        continue;
      double d2 = 0;
      for (std::size_t d = 0; d < dim; ++d) {
        double diff = sum[small][d] / static_cast<double>(size[small]) - sum[c][d] / static_cast<double>(size[c]);
        d2 += diff * diff;
      }
      if (best == k || d2 < best_d) { // the first live cluster even when distances are not finite
        best_d = d2;
        best = c;
      }
    }
    for (std::size_t d = 0; d < dim; ++d)
      sum[best][d] += sum[small][d];
    size[best] += size[small];
    alive[small] = false;
    into[small] = best;
    --live;
  }
  // Follow merges to the surviving cluster, then number the clusters that were not merged away
  // (an empty one, which has no centroid, keeps its place) in their old order.
  std::vector<std::uint32_t> number(k, k);
  std::uint32_t next = 0;
  for (std::uint32_t c = 0; c < k; ++c)
    if (into[c] == c)
      number[c] = next++;
  for (auto& a : assignment) {
    auto c = a;
    while (into[c] != c)
      c = into[c];
    a = number[c];
  }
  return next;
}

} // namespace flotilla::fl
