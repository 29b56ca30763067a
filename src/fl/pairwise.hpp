#pragma once
// Pairwise matrices of n points of `dim` floats, the input of agglomerative clustering, the
// silhouette and CFL's split. Sums run in double over fixed blocks of coordinates, every point
// pair per block, so a model-sized dim streams the points from memory once rather than once per
// pair; the block size is fixed, so the bits depend on the points alone.
#include <cstddef>
#include <vector>

namespace flotilla::fl {

/// Squared Euclidean distances, row-major n × n, zero on the diagonal.
std::vector<double> squared_distances(const std::vector<const float*>& points, std::size_t dim);

/// Cosine similarities <a, b> / (‖a‖ ‖b‖), row-major n × n. A zero vector is similar to nothing
/// (0, also on its own diagonal entry), so its cosine distance 1 − s is 1 to everything.
std::vector<double> cosine_similarities(const std::vector<const float*>& points, std::size_t dim);

} // namespace flotilla::fl
