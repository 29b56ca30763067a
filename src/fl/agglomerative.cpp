#include "fl/agglomerative.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "fl/pairwise.hpp"

namespace flotilla::fl {

namespace {

constexpr auto none = std::numeric_limits<std::size_t>::max();

void check_k(const char* who, std::size_t n, std::uint32_t k) {
  if (k == 0 || k > n)
    throw std::invalid_argument(std::string(who) + ": k = " + std::to_string(k) + " for " + std::to_string(n) +
                                " points; need 1 <= k <= points");
}

// Lance–Williams: the dissimilarity of cluster x to the union of i and j, from the old ones.
double merged(merge_rule rule, double xi, double xj, double ij, double ni, double nj, double nx) {
  switch (rule) {
  case merge_rule::ward:
    return ((nx + ni) * xi + (nx + nj) * xj - nx * ij) / (nx + ni + nj);
  case merge_rule::average:
    return (ni * xi + nj * xj) / (ni + nj);
  case merge_rule::complete:
    break;
  }
  return std::max(xi, xj);
}

} // namespace

std::vector<std::uint32_t> agglomerate(std::vector<double> d, std::size_t n, std::uint32_t k, merge_rule rule) {
  check_k("agglomerative", n, k);
  if (d.size() != n * n)
    throw std::invalid_argument("agglomerative: " + std::to_string(d.size()) + " dissimilarities for " +
                                std::to_string(n) + " points; need points * points");
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j)
      if (!std::isfinite(d[i * n + j]))
        throw std::invalid_argument("agglomerative: the distance between points " + std::to_string(i) + " and " +
                                    std::to_string(j) + " is not finite (NaN or infinite coordinates?)");

  // A cluster lives at the index of its lowest point; merged_into links the others to it.
  std::vector<char> active(n, 1);
  std::vector<double> size(n, 1.0);
  std::vector<std::size_t> merged_into(n, none);
  // Each cluster's nearest other cluster (ties to the lowest index) and its dissimilarity, kept
  // up to date so a merge costs O(n) rather than a scan of the whole matrix.
  std::vector<std::size_t> nearest(n, none);
  std::vector<double> nearest_d(n, 0.0);
  auto rescan = [&](std::size_t i) {
    nearest[i] = none;
    for (std::size_t j = 0; j < n; ++j)
      if (active[j] && j != i && (nearest[i] == none || d[i * n + j] < nearest_d[i])) {
        nearest[i] = j;
        nearest_d[i] = d[i * n + j];
      }
  };
  if (n > 1)
    for (std::size_t i = 0; i < n; ++i)
      rescan(i);

  for (std::size_t clusters = n; clusters > k; --clusters) {
    // The lowest i of any closest pair, with its lowest partner, which is then above i.
    std::size_t i = none;
    for (std::size_t x = 0; x < n; ++x)
      if (active[x] && (i == none || nearest_d[x] < nearest_d[i]))
        i = x;
    auto j = nearest[i];
    // Reads go along rows i and j (the matrix is symmetric): once the matrix outgrows the cache,
    // walking its columns costs more than the arithmetic.
    for (std::size_t x = 0; x < n; ++x)
      if (active[x] && x != i && x != j) {
        auto v = merged(rule, d[i * n + x], d[j * n + x], d[i * n + j], size[i], size[j], size[x]);
        d[i * n + x] = d[x * n + i] = v;
      }
    size[i] += size[j];
    active[j] = 0;
    merged_into[j] = i;
    if (clusters - 1 == k)
      break;
    for (std::size_t x = 0; x < n; ++x) {
      if (!active[x] || x == i)
        continue;
      if (nearest[x] == i || nearest[x] == j) {
        rescan(x);
        continue;
      }
      // Ward, average and complete never bring a merged cluster nearer than the nearer of its
      // parts was, but rounding can: keep the cache exact rather than trust the inequality.
      auto v = d[i * n + x];
      if (v < nearest_d[x] || (v == nearest_d[x] && i < nearest[x])) {
        nearest[x] = i;
        nearest_d[x] = v;
      }
    }
    rescan(i);
  }

  // Merges always keep the lower index, so following the links ends at a cluster's lowest point.
  std::vector<std::uint32_t> label(n);
  std::vector<std::uint32_t> label_of_root(n, std::numeric_limits<std::uint32_t>::max());
  std::uint32_t next = 0;
  for (std::size_t p = 0; p < n; ++p) {
    auto root = p;
    while (merged_into[root] != none)
      root = merged_into[root];
    if (label_of_root[root] == std::numeric_limits<std::uint32_t>::max())
      label_of_root[root] = next++;
    label[p] = label_of_root[root];
  }
  return label;
}

std::vector<std::uint32_t> agglomerative(const std::vector<const float*>& points, std::size_t dim,
                                         std::uint32_t k, linkage l) {
  check_k("agglomerative", points.size(), k);
  if (l == linkage::ward)
    return agglomerate(squared_distances(points, dim), points.size(), k, merge_rule::ward);
  auto distance = cosine_similarities(points, dim);
  for (auto& s : distance)
    s = 1.0 - s;
  return agglomerate(std::move(distance), points.size(), k, merge_rule::average);
}

} // namespace flotilla::fl
