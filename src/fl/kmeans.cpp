#include "fl/kmeans.hpp"

#include "fl/seeds.hpp"

#include <algorithm>
#include <limits>
#include <random>
#include <stdexcept>

namespace flotilla::fl {

namespace {

double squared_distance(const float* a, const float* b, std::size_t dim) {
  double sum = 0;
  for (std::size_t i = 0; i < dim; ++i) {
    double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    sum += d * d;
  }
  return sum;
}

std::vector<std::vector<float>> seed_plus_plus(const std::vector<const float*>& points, std::size_t dim,
                                               std::uint32_t k, std::mt19937_64& rng) {
  std::vector<std::vector<float>> centers;
  std::uniform_int_distribution<std::size_t> first(0, points.size() - 1);
  auto pick = first(rng);
  centers.emplace_back(points[pick], points[pick] + dim);
  std::vector<double> nearest(points.size(), std::numeric_limits<double>::max());
  while (centers.size() < k) {
    double total = 0;
    for (std::size_t i = 0; i < points.size(); ++i) {
      nearest[i] = std::min(nearest[i], squared_distance(points[i], centers.back().data(), dim));
      total += nearest[i];
    }
    std::size_t chosen = 0;
    if (total > 0) {
      std::uniform_real_distribution<double> u(0, total);
      double target = u(rng), acc = 0;
      for (chosen = 0; chosen + 1 < points.size(); ++chosen) {
        acc += nearest[chosen];
        if (acc >= target && nearest[chosen] > 0)
          break;
      }
    } else {
      chosen = first(rng); // all points coincide with a center
    }
    centers.emplace_back(points[chosen], points[chosen] + dim);
  }
  return centers;
}

kmeans_result lloyd(const std::vector<const float*>& points, std::size_t dim,
                    std::vector<std::vector<float>> centers, std::uint32_t max_iterations) {
  auto n = points.size();
  auto k = centers.size();
  std::vector<std::uint32_t> assign(n, 0);
  std::vector<double> dist(n, 0);
  for (std::uint32_t iter = 0; iter < max_iterations; ++iter) {
    bool changed = iter == 0;
    for (std::size_t i = 0; i < n; ++i) {
      double best = std::numeric_limits<double>::max();
      std::uint32_t arg = 0;
      for (std::uint32_t c = 0; c < k; ++c) {
        auto d = squared_distance(points[i], centers[c].data(), dim);
        if (d < best) {
          best = d;
          arg = c;
        }
      }
      changed |= arg != assign[i];
      assign[i] = arg;
      dist[i] = best;
    }
    if (!changed)
      break;
    // An empty cluster takes the point farthest from its center, so k clusters remain.
    std::vector<std::size_t> counts(k, 0);
    for (auto a : assign)
      ++counts[a];
    for (std::uint32_t c = 0; c < k; ++c)
      if (counts[c] == 0) {
        auto far = static_cast<std::size_t>(std::max_element(dist.begin(), dist.end()) - dist.begin());
        --counts[assign[far]];
        assign[far] = c;
        counts[c] = 1;
        dist[far] = 0;
      }
    for (std::uint32_t c = 0; c < k; ++c)
      std::fill(centers[c].begin(), centers[c].end(), 0.0f);
    std::vector<std::vector<double>> sums(k, std::vector<double>(dim, 0.0));
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t d = 0; d < dim; ++d)
        sums[assign[i]][d] += points[i][d];
    for (std::uint32_t c = 0; c < k; ++c)
      for (std::size_t d = 0; d < dim; ++d)
        centers[c][d] = static_cast<float>(sums[c][d] / static_cast<double>(counts[c]));
  }
  kmeans_result out;
  out.assignment = assign;
  out.centers = std::move(centers);
  for (std::size_t i = 0; i < n; ++i)
    out.inertia += squared_distance(points[i], out.centers[assign[i]].data(), dim);
  return out;
}

} // namespace

kmeans_result kmeans(const std::vector<const float*>& points, std::size_t dim,
                     const kmeans_options& options) {
  if (options.k == 0 || options.k > points.size())
    throw std::invalid_argument("kmeans: k = " + std::to_string(options.k) + " for " +
                                std::to_string(points.size()) + " points; need 1 <= k <= points");
  kmeans_result best;
  best.inertia = std::numeric_limits<double>::max();
  std::vector<double> inertias;
  for (std::uint32_t r = 0; r < std::max<std::uint32_t>(1, options.restarts); ++r) {
    // Each restart its own generator: restarts are independent draws, not one stream's slices.
    std::mt19937_64 rng(splitmix64(options.seed + r));
    auto result = lloyd(points, dim, seed_plus_plus(points, dim, options.k, rng), options.max_iterations);
    inertias.push_back(result.inertia);
    if (result.inertia < best.inertia)
      best = std::move(result);
  }
  best.restart_inertias = std::move(inertias);
  // Renumber clusters by first appearance so the labels do not depend on the seed's luck.
  std::vector<std::int64_t> relabel(options.k, -1);
  std::uint32_t next = 0;
  for (auto a : best.assignment)
    if (relabel[a] < 0)
      relabel[a] = next++;
  for (auto& r : relabel)
    if (r < 0)
      r = next++;
  std::vector<std::vector<float>> centers(options.k);
  for (std::uint32_t c = 0; c < options.k; ++c)
    centers[static_cast<std::size_t>(relabel[c])] = std::move(best.centers[c]);
  for (auto& a : best.assignment)
    a = static_cast<std::uint32_t>(relabel[a]);
  best.centers = std::move(centers);
  return best;
}

} // namespace flotilla::fl
