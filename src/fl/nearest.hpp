#pragma once
// Placing a client in an existing clustering: a late joiner goes to the cluster whose centroid
// is nearest to its features.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flotilla::fl {

/// Where a point goes, and its distance to every centroid.
struct placement {
  std::uint32_t cluster = 0;
  std::vector<double> distances; ///< Euclidean, one per centroid
};

/// The centroid nearest to `features` (Euclidean, in double), ties to the lower index. Throws
/// std::invalid_argument for no centroids, a centroid of another dimension, or a non-finite
/// distance (NaN or infinite features).
placement nearest_centroid(const float* features, std::size_t dim, const std::vector<std::vector<float>>& centroids);

/// The mean of each cluster 0..k-1 of `points` by `assignment`, summed in double in point order
/// and stored as float. Throws std::invalid_argument for mismatched sizes, a label >= k or a
/// cluster without points.
std::vector<std::vector<float>> centroids_of(const std::vector<const float*>& points, std::size_t dim,
                                             const std::vector<std::uint32_t>& assignment, std::uint32_t k);

} // namespace flotilla::fl
