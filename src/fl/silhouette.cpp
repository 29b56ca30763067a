#include "fl/silhouette.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>

#include "fl/pairwise.hpp"

namespace flotilla::fl {

namespace {

std::vector<double> euclidean(const std::vector<const float*>& points, std::size_t dim) {
  auto d = squared_distances(points, dim);
  for (auto& x : d)
    x = std::sqrt(x);
  return d;
}

std::size_t distinct(const std::vector<std::uint32_t>& assignment) {
  return std::set<std::uint32_t>(assignment.begin(), assignment.end()).size();
}

} // namespace

double silhouette_of_distances(const std::vector<double>& d, const std::vector<std::uint32_t>& assignment) {
  auto n = assignment.size();
  if (d.size() != n * n)
    throw std::invalid_argument("silhouette: " + std::to_string(d.size()) + " distances for " + std::to_string(n) +
                                " labels; need labels * labels");
  // Dense cluster indices in label order, so sums below run in a fixed order.
  std::map<std::uint32_t, std::size_t> index;
  for (auto a : assignment)
    index.emplace(a, 0);
  if (index.size() < 2 || index.size() + 1 > n)
    throw std::invalid_argument("silhouette: " + std::to_string(index.size()) + " distinct clusters among " +
                                std::to_string(n) + " points; need 2 to points - 1");
  std::size_t next = 0;
  for (auto& [label, i] : index)
    i = next++;
  std::vector<std::size_t> cluster(n), count(index.size(), 0);
  for (std::size_t i = 0; i < n; ++i) {
    cluster[i] = index[assignment[i]];
    ++count[cluster[i]];
  }
  double total = 0;
  std::vector<double> sum(index.size());
  for (std::size_t i = 0; i < n; ++i) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (std::size_t j = 0; j < n; ++j) {
      auto x = d[i * n + j];
      if (j != i && !std::isfinite(x))
        throw std::invalid_argument("silhouette: the distance between points " + std::to_string(std::min(i, j)) +
                                    " and " + std::to_string(std::max(i, j)) + " is not finite");
      if (j != i)
        sum[cluster[j]] += x;
    }
    auto own = cluster[i];
    if (count[own] == 1)
      continue; // a singleton scores 0: it has no a(i)
    double a = sum[own] / static_cast<double>(count[own] - 1);
    double b = std::numeric_limits<double>::max();
    for (std::size_t c = 0; c < sum.size(); ++c)
      if (c != own)
        b = std::min(b, sum[c] / static_cast<double>(count[c]));
    auto scale = std::max(a, b);
    if (scale > 0) // all points of both clusters coincide: 0, as for a singleton
      total += (b - a) / scale;
  }
  return total / static_cast<double>(n);
}

double silhouette(const std::vector<const float*>& points, std::size_t dim,
                  const std::vector<std::uint32_t>& assignment) {
  if (assignment.size() != points.size())
    throw std::invalid_argument("silhouette: " + std::to_string(assignment.size()) + " labels for " +
                                std::to_string(points.size()) + " points");
  auto clusters = distinct(assignment);
  if (clusters < 2 || clusters + 1 > points.size()) // before computing any distance
    throw std::invalid_argument("silhouette: " + std::to_string(clusters) + " distinct clusters among " +
                                std::to_string(points.size()) + " points; need 2 to points - 1");
  return silhouette_of_distances(euclidean(points, dim), assignment);
}

k_choice choose_k(const std::vector<const float*>& points, std::size_t dim, std::uint32_t k_max,
                  const std::function<std::vector<std::uint32_t>(std::uint32_t k)>& cluster) {
  auto n = points.size();
  if (k_max < 2 || n < 3)
    throw std::invalid_argument("choose_k: k_max = " + std::to_string(k_max) + " with " + std::to_string(n) +
                                " points; need k_max >= 2 and at least 3 points");
  if (!cluster)
    throw std::invalid_argument("choose_k: no clustering function");
  auto d = euclidean(points, dim);
  auto last = static_cast<std::uint32_t>(std::min<std::size_t>(k_max, n - 1));
  k_choice best;
  for (std::uint32_t k = 2; k <= last; ++k) {
    auto assignment = cluster(k);
    if (assignment.size() != n)
      throw std::invalid_argument("choose_k: the clustering for k = " + std::to_string(k) + " gave " +
                                  std::to_string(assignment.size()) + " labels for " + std::to_string(n) + " points");
    if (distinct(assignment) != k)
      throw std::invalid_argument("choose_k: the clustering for k = " + std::to_string(k) + " gave " +
                                  std::to_string(distinct(assignment)) + " clusters");
    auto score = silhouette_of_distances(d, assignment);
    best.scores[k] = score;
    if (best.k == 0 || score > best.scores[best.k]) { // strictly better: ties keep the smaller k
      best.k = k;
      best.assignment = std::move(assignment);
    }
  }
  return best;
}

} // namespace flotilla::fl
