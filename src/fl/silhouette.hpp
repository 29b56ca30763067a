#pragma once
// The silhouette (Rousseeuw 1987): how much closer each point is to its own cluster than to the
// nearest other one, and choose_k, which picks the number of clusters by it.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

namespace flotilla::fl {

/// Mean silhouette coefficient in [-1, 1] of a labelling, on Euclidean distances; a point alone
/// in its cluster scores 0. Labels need not be contiguous. Throws std::invalid_argument when the
/// sizes differ, when the number of distinct labels is not in 2..n-1, or for non-finite distances.
double silhouette(const std::vector<const float*>& points, std::size_t dim,
                  const std::vector<std::uint32_t>& assignment);

/// The same from a row-major n × n matrix of Euclidean (not squared) distances.
double silhouette_of_distances(const std::vector<double>& distances, const std::vector<std::uint32_t>& assignment);

/// The k with the highest silhouette, every tried k's score, and that k's labelling.
struct k_choice {
  std::uint32_t k = 0;
  std::map<std::uint32_t, double> scores;
  std::vector<std::uint32_t> assignment;
};

/// Tries k = 2..min(k_max, n - 1) with `cluster(k)` (which must return one label per point and
/// exactly k distinct labels) and keeps the best silhouette, ties to the smaller k. Distances are
/// computed once. Throws std::invalid_argument when k_max < 2 or there are fewer than 3 points.
/// For model-sized points, let `cluster` reuse one matrix too: agglomerate(squared_distances(...),
/// n, k, merge_rule::ward) rather than agglomerative(...) per k.
k_choice choose_k(const std::vector<const float*>& points, std::size_t dim, std::uint32_t k_max,
                  const std::function<std::vector<std::uint32_t>(std::uint32_t k)>& cluster);

} // namespace flotilla::fl
