#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flotilla::fl {

struct kmeans_options {
  std::uint32_t k = 2;
  std::uint32_t restarts = 10;       ///< independent k-means++ starts; the lowest inertia wins
  std::uint32_t max_iterations = 100;
  std::uint64_t seed = 0;
};

struct kmeans_result {
  std::vector<std::uint32_t> assignment; ///< cluster of each point, numbered by first member
  std::vector<std::vector<float>> centers;
  double inertia = 0; ///< sum of squared distances to the assigned centers
  std::vector<double> restart_inertias; ///< every restart's inertia, in order (the lowest wins)
};

/// Lloyd's k-means with k-means++ seeding (Arthur & Vassilvitskii 2007), several seeded
/// restarts. Clusters are renumbered in order of their lowest point index, so equal partitions
/// get equal labels. Throws std::invalid_argument when k is 0 or exceeds the number of points.
kmeans_result kmeans(const std::vector<const float*>& points, std::size_t dim,
                     const kmeans_options& options);

} // namespace flotilla::fl
