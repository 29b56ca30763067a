#include "fl/nearest.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace flotilla::fl {

placement nearest_centroid(const float* features, std::size_t dim, const std::vector<std::vector<float>>& centroids) {
  if (centroids.empty())
    throw std::invalid_argument("nearest_centroid: no centroids");
  placement out;
  out.distances.reserve(centroids.size());
  for (std::uint32_t c = 0; c < centroids.size(); ++c) {
    if (centroids[c].size() != dim)
      throw std::invalid_argument("nearest_centroid: centroid " + std::to_string(c) + " has " +
                                  std::to_string(centroids[c].size()) + " values, the features " +
                                  std::to_string(dim));
    double sum = 0;
    for (std::size_t t = 0; t < dim; ++t) {
      double d = static_cast<double>(features[t]) - static_cast<double>(centroids[c][t]);
      sum += d * d;
    }
    auto distance = std::sqrt(sum);
    if (!std::isfinite(distance))
      throw std::invalid_argument("nearest_centroid: the distance to centroid " + std::to_string(c) +
                                  " is not finite (NaN or infinite values)");
    // Strictly nearer wins, so a tie keeps the lower index.
    if (c == 0 || distance < out.distances[out.cluster])
      out.cluster = c;
    out.distances.push_back(distance);
  }
  return out;
}

std::vector<std::vector<float>> centroids_of(const std::vector<const float*>& points, std::size_t dim,
                                             const std::vector<std::uint32_t>& assignment, std::uint32_t k) {
  if (assignment.size() != points.size())
    throw std::invalid_argument("centroids_of: " + std::to_string(assignment.size()) + " labels for " +
                                std::to_string(points.size()) + " points");
  std::vector<std::vector<double>> sums(k, std::vector<double>(dim, 0.0));
  std::vector<std::size_t> counts(k, 0);
  for (std::size_t i = 0; i < points.size(); ++i) {
    auto c = assignment[i];
    if (c >= k)
      throw std::invalid_argument("centroids_of: point " + std::to_string(i) + " is in cluster " +
                                  std::to_string(c) + " of " + std::to_string(k));
    ++counts[c];
    for (std::size_t t = 0; t < dim; ++t)
      sums[c][t] += points[i][t];
  }
  std::vector<std::vector<float>> out(k, std::vector<float>(dim));
  for (std::uint32_t c = 0; c < k; ++c) {
    if (counts[c] == 0)
      throw std::invalid_argument("centroids_of: cluster " + std::to_string(c) + " of " + std::to_string(k) +
                                  " has no points");
    for (std::size_t t = 0; t < dim; ++t)
      out[c][t] = static_cast<float>(sums[c][t] / static_cast<double>(counts[c]));
  }
  return out;
}

} // namespace flotilla::fl
