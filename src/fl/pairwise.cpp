#include "fl/pairwise.hpp"

#include <algorithm>
#include <cmath>

namespace flotilla::fl {

namespace {

// 2,048 floats per point per pass: 20 points take 160 KB, which stays in L2 while all pairs
// of the block are summed.
constexpr std::size_t block = 2048;
// Independent accumulators in a fixed order: the compiler may vectorize them without
// reassociating anything, so the result does not depend on the instruction set.
constexpr std::size_t lanes = 8;

double squared_difference(const float* a, const float* b, std::size_t len) {
  double acc[lanes] = {};
  std::size_t t = 0;
  for (; t + lanes <= len; t += lanes)
    for (std::size_t l = 0; l < lanes; ++l) {
      double d = static_cast<double>(a[t + l]) - static_cast<double>(b[t + l]);
      acc[l] += d * d;
    }
  double sum = 0;
  for (; t < len; ++t) {
    double d = static_cast<double>(a[t]) - static_cast<double>(b[t]);
    sum += d * d;
  }
  for (double x : acc)
    sum += x;
  return sum;
}

double dot(const float* a, const float* b, std::size_t len) {
  double acc[lanes] = {};
  std::size_t t = 0;
  for (; t + lanes <= len; t += lanes)
    for (std::size_t l = 0; l < lanes; ++l)
      acc[l] += static_cast<double>(a[t + l]) * static_cast<double>(b[t + l]);
  double sum = 0;
  for (; t < len; ++t)
    sum += static_cast<double>(a[t]) * static_cast<double>(b[t]);
  for (double x : acc)
    sum += x;
  return sum;
}

// out[i][j] (j >= i, diagonal included when `diagonal`) summed block by block, then mirrored.
template <typename Kernel>
std::vector<double> symmetric(const std::vector<const float*>& points, std::size_t dim, bool diagonal,
                              Kernel kernel) {
  auto n = points.size();
  std::vector<double> out(n * n, 0.0);
  for (std::size_t start = 0; start < dim; start += block) {
    auto len = std::min(block, dim - start);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = diagonal ? i : i + 1; j < n; ++j)
        out[i * n + j] += kernel(points[i] + start, points[j] + start, len);
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j)
      out[j * n + i] = out[i * n + j];
  return out;
}

} // namespace

std::vector<double> squared_distances(const std::vector<const float*>& points, std::size_t dim) {
  return symmetric(points, dim, false, squared_difference);
}

std::vector<double> cosine_similarities(const std::vector<const float*>& points, std::size_t dim) {
  auto n = points.size();
  auto gram = symmetric(points, dim, true, dot);
  std::vector<double> norm(n);
  for (std::size_t i = 0; i < n; ++i)
    norm[i] = std::sqrt(gram[i * n + i]);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      auto& g = gram[i * n + j];
      // Written so that a NaN norm (NaN or infinite coordinates) stays NaN for callers to refuse.
      g = norm[i] == 0 || norm[j] == 0 ? 0.0 : g / (norm[i] * norm[j]);
    }
  return gram;
}

} // namespace flotilla::fl
