#include "fl/cfl.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "fl/agglomerative.hpp"
#include "fl/pairwise.hpp"

namespace flotilla::fl {

namespace {

constexpr std::size_t block = 2048;

std::string number(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

// Both norms in one pass over the updates, block by block in double. The mean is summed
// coordinate by coordinate rather than taken from the Gram matrix: exactly when CFL matters the
// mean nearly cancels, and Σ_ij <Δ_i, Δ_j> would lose it to rounding.
void norms(const std::vector<std::uint32_t>& ids, const std::vector<const float*>& updates, std::size_t dim,
           cfl_decision& out) {
  auto n = updates.size();
  std::vector<double> squared(n, 0.0), sum(std::min(block, dim));
  double mean_squared = 0;
  for (std::size_t start = 0; start < dim; start += block) {
    auto len = std::min(block, dim - start);
    std::fill(sum.begin(), sum.end(), 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      const float* u = updates[i] + start;
      double own = 0;
      for (std::size_t t = 0; t < len; ++t) {
        double x = u[t];
        sum[t] += x;
        own += x * x;
      }
      squared[i] += own;
    }
    double block_mean = 0;
    for (std::size_t t = 0; t < len; ++t) {
      double m = sum[t] / static_cast<double>(n);
      block_mean += m * m;
    }
    mean_squared += block_mean;
  }
  out.mean_norm = std::sqrt(mean_squared);
  out.max_norm = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(squared[i]))
      throw std::invalid_argument("cfl_check: the update of client " + std::to_string(ids[i]) +
                                  " is not finite (NaN or infinite values)");
    out.max_norm = std::max(out.max_norm, std::sqrt(squared[i]));
  }
}

} // namespace

cfl_decision cfl_check(const std::vector<std::uint32_t>& ids, const std::vector<const float*>& updates,
                       std::size_t dim, double eps1, double eps2, std::size_t min_size) {
  if (ids.size() != updates.size())
    throw std::invalid_argument("cfl_check: " + std::to_string(ids.size()) + " ids for " +
                                std::to_string(updates.size()) + " updates");
  if (ids.empty())
    throw std::invalid_argument("cfl_check: no updates");
  for (std::size_t i = 1; i < ids.size(); ++i)
    if (ids[i] <= ids[i - 1])
      throw std::invalid_argument("cfl_check: ids must be strictly ascending (" + std::to_string(ids[i - 1]) +
                                  " before " + std::to_string(ids[i]) + ")");
  if (!(eps1 >= 0) || !(eps2 >= 0))
    throw std::invalid_argument("cfl_check: eps1 = " + number(eps1) + ", eps2 = " + number(eps2) +
                                "; both must be >= 0");
  if (min_size == 0)
    throw std::invalid_argument("cfl_check: min_size must be at least 1");

  cfl_decision out;
  norms(ids, updates, dim, out);
  auto n = ids.size();
  if (!(out.mean_norm < eps1)) {
    out.reason = "mean update norm " + number(out.mean_norm) + " >= eps1 " + number(eps1);
    return out;
  }
  if (!(out.max_norm > eps2)) {
    out.reason = "largest update norm " + number(out.max_norm) + " <= eps2 " + number(eps2);
    return out;
  }
  if (n < 2 * min_size) {
    out.reason = std::to_string(n) + " members < 2 * min_size " + std::to_string(min_size);
    return out;
  }
  auto distance = cosine_similarities(updates, dim);
  for (auto& s : distance)
    s = -s;
  auto side = agglomerate(std::move(distance), n, 2, merge_rule::complete);
  std::vector<std::uint32_t> first, second;
  for (std::size_t i = 0; i < n; ++i)
    (side[i] == 0 ? first : second).push_back(ids[i]); // label 0 is the side of ids[0], the lowest
  if (first.size() < min_size || second.size() < min_size) {
    out.reason = "the bipartition " + std::to_string(first.size()) + " + " + std::to_string(second.size()) +
                 " leaves a side below min_size " + std::to_string(min_size);
    return out;
  }
  out.split = true;
  out.first = std::move(first);
  out.second = std::move(second);
  return out;
}

} // namespace flotilla::fl
