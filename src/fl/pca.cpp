#include "fl/pca.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>

namespace flotilla::fl {

namespace {

/// A dense m x m symmetric matrix, row-major.
struct square {
  std::size_t m = 0;
  std::vector<double> a;
  explicit square(std::size_t size) : m(size), a(size * size, 0.0) {}
  double& at(std::size_t r, std::size_t c) { return a[r * m + c]; }
  double at(std::size_t r, std::size_t c) const { return a[r * m + c]; }
};

using column = std::vector<double>;

// Four accumulators: the compiler may not reorder a floating-point sum on its own, and one
// chain of dependent adds runs at a quarter of the machine's speed.
double dot(const double* x, const double* y, std::size_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += x[i] * y[i];
    s1 += x[i + 1] * y[i + 1];
    s2 += x[i + 2] * y[i + 2];
    s3 += x[i + 3] * y[i + 3];
  }
  for (; i < n; ++i)
    s0 += x[i] * y[i];
  return (s0 + s1) + (s2 + s3);
}

// (x_i - mean) . (x_j - mean) for every pair, a block of coordinates at a time: the centered
// block stays in cache and no dim-sized buffer is ever held.
square centered_gram(const std::vector<const float*>& points, std::size_t dim) {
  const std::size_t n = points.size();
  square g(n);
  const std::size_t chunk = std::max<std::size_t>(256, (std::size_t{1} << 16) / n);
  std::vector<double> block(n * chunk);
  for (std::size_t start = 0; start < dim; start += chunk) {
    const std::size_t len = std::min(chunk, dim - start);
    for (std::size_t d = 0; d < len; ++d) {
      double mean = 0;
      for (std::size_t i = 0; i < n; ++i)
        mean += points[i][start + d];
      mean /= static_cast<double>(n);
      for (std::size_t i = 0; i < n; ++i)
        block[i * len + d] = points[i][start + d] - mean;
    }
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i; j < n; ++j)
        g.at(i, j) += dot(&block[i * len], &block[j * len], len);
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < i; ++j)
      g.at(i, j) = g.at(j, i);
  return g;
}

std::vector<double> mean_of(const std::vector<const float*>& points, std::size_t dim) {
  std::vector<double> mean(dim, 0.0);
  for (const float* p : points)
    for (std::size_t d = 0; d < dim; ++d)
      mean[d] += p[d];
  for (auto& v : mean)
    v /= static_cast<double>(points.size());
  return mean;
}

// Scatter matrix sum_i (x_i - mean)(x_i - mean)^T, for more points than coordinates.
square scatter(const std::vector<const float*>& points, const std::vector<double>& mean) {
  const std::size_t dim = mean.size();
  square s(dim);
  std::vector<double> c(dim);
  for (const float* p : points) {
    for (std::size_t d = 0; d < dim; ++d)
      c[d] = p[d] - mean[d];
    for (std::size_t r = 0; r < dim; ++r)
      for (std::size_t q = r; q < dim; ++q)
        s.at(r, q) += c[r] * c[q];
  }
  for (std::size_t r = 0; r < dim; ++r)
    for (std::size_t q = 0; q < r; ++q)
      s.at(r, q) = s.at(q, r);
  return s;
}

/// Eigenvalues (descending) and matching unit eigenvectors (columns of `vectors`).
struct eigen {
  std::vector<double> values;
  std::vector<column> vectors;
};

// Cyclic Jacobi rotations: exact to rounding and order-independent of any randomness; used on
// the small Rayleigh-Ritz matrices only.
eigen jacobi(square a) {
  const std::size_t m = a.m;
  square v(m);
  for (std::size_t i = 0; i < m; ++i)
    v.at(i, i) = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diag = 0;
    for (std::size_t p = 0; p < m; ++p) {
      diag += a.at(p, p) * a.at(p, p);
      for (std::size_t q = p + 1; q < m; ++q)
        off += a.at(p, q) * a.at(p, q);
    }
    if (off <= 1e-32 * diag || off == 0)
      break;
    for (std::size_t p = 0; p < m; ++p)
      for (std::size_t q = p + 1; q < m; ++q) {
        const double apq = a.at(p, q);
        if (apq == 0)
          continue;
        const double theta = (a.at(q, q) - a.at(p, p)) / (2 * apq);
        const double t = std::abs(theta) > 1e150 ? 0.5 / theta
                                                   : (theta >= 0 ? 1.0 : -1.0) /
                                                         (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (std::size_t k = 0; k < m; ++k) {
          const double akp = a.at(k, p), akq = a.at(k, q);
          a.at(k, p) = c * akp - s * akq;
          a.at(k, q) = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < m; ++k) {
          const double apk = a.at(p, k), aqk = a.at(q, k);
          a.at(p, k) = c * apk - s * aqk;
          a.at(q, k) = s * apk + c * aqk;
        }
        for (std::size_t k = 0; k < m; ++k) {
          const double vkp = v.at(k, p), vkq = v.at(k, q);
          v.at(k, p) = c * vkp - s * vkq;
          v.at(k, q) = s * vkp + c * vkq;
        }
      }
  }
  std::vector<std::size_t> order(m);
  for (std::size_t i = 0; i < m; ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](auto x, auto y) { return a.at(x, x) > a.at(y, y); });
  eigen out;
  for (auto i : order) {
    out.values.push_back(a.at(i, i));
    column col(m);
    for (std::size_t k = 0; k < m; ++k)
      col[k] = v.at(k, i);
    out.vectors.push_back(std::move(col));
  }
  return out;
}

// Modified Gram-Schmidt. A column that vanishes (the matrix has lower rank than the block) is
// replaced by the first unit vector that is not yet in the span, so the block stays a basis.
void orthonormalize(std::vector<column>& q) {
  const std::size_t m = q.front().size();
  std::size_t next_unit = 0;
  for (std::size_t k = 0; k < q.size(); ++k) {
    for (int attempt = 0;; ++attempt) {
      const double before = std::sqrt(dot(q[k].data(), q[k].data(), m));
      for (std::size_t j = 0; j < k; ++j) {
        const double proj = dot(q[j].data(), q[k].data(), m);
        for (std::size_t i = 0; i < m; ++i)
          q[k][i] -= proj * q[j][i];
      }
      const double norm = std::sqrt(dot(q[k].data(), q[k].data(), m));
      if (norm > 1e-10 * before && norm > 0) {
        for (auto& x : q[k])
          x /= norm;
        break;
      }
      std::fill(q[k].begin(), q[k].end(), 0.0);
      q[k][next_unit++ % m] = 1.0;
      if (attempt > static_cast<int>(m))
        throw std::logic_error("pca2: cannot complete an orthonormal basis");
    }
  }
}

column multiply(const square& s, const column& x) {
  column y(s.m);
  for (std::size_t r = 0; r < s.m; ++r)
    y[r] = dot(&s.a[r * s.m], x.data(), s.m);
  return y;
}

// Top eigenpairs of a symmetric positive semi-definite matrix by block subspace iteration with
// Rayleigh-Ritz: O(m² b) per step, so a thousand clients stay cheap. The start block comes from
// a fixed seed (the result must not depend on anything but the points); when the block spans
// the whole space (m <= 8) one step is exact.
eigen top_eigen(const square& s) {
  const std::size_t m = s.m, b = std::min<std::size_t>(m, 8);
  std::vector<column> q(b, column(m, 0.0));
  if (b == m) {
    for (std::size_t k = 0; k < m; ++k)
      q[k][k] = 1;
  } else {
    std::mt19937 rng(20240611);
    for (auto& col : q)
      for (auto& x : col)
        x = static_cast<double>(rng()) / 4294967296.0 - 0.5;
    orthonormalize(q);
  }
  eigen ritz;
  for (int step = 0; step < 2000; ++step) {
    std::vector<column> z(b);
    for (std::size_t k = 0; k < b; ++k)
      z[k] = multiply(s, q[k]);
    square h(b);
    for (std::size_t r = 0; r < b; ++r)
      for (std::size_t c = 0; c < b; ++c)
        h.at(r, c) = 0.5 * (dot(q[r].data(), z[c].data(), m) + dot(q[c].data(), z[r].data(), m));
    auto small = jacobi(h);
    std::vector<column> qr(b, column(m, 0.0)), zr(b, column(m, 0.0));
    for (std::size_t k = 0; k < b; ++k)
      for (std::size_t j = 0; j < b; ++j) {
        const double w = small.vectors[k][j];
        for (std::size_t i = 0; i < m; ++i) {
          qr[k][i] += w * q[j][i];
          zr[k][i] += w * z[j][i];
        }
      }
    ritz.values = small.values;
    ritz.vectors = qr;
    if (b == m)
      break;
    bool converged = true;
    const double scale = std::max(std::abs(small.values[0]), 1e-300);
    for (std::size_t k = 0; k < std::min<std::size_t>(2, b); ++k) {
      double r2 = 0;
      for (std::size_t i = 0; i < m; ++i) {
        const double d = zr[k][i] - small.values[k] * qr[k][i];
        r2 += d * d;
      }
      converged = converged && std::sqrt(r2) <= 1e-11 * scale;
    }
    if (converged)
      break;
    q = std::move(zr);
    orthonormalize(q);
  }
  return ritz;
}

} // namespace

std::vector<std::array<double, 2>> pca2(const std::vector<const float*>& points, std::size_t dim) {
  for (std::size_t i = 0; i < points.size(); ++i)
    if (points[i] == nullptr)
      throw std::invalid_argument("pca2: point " + std::to_string(i) +
                                  " is null; pass one pointer per point to its dim floats");
  const std::size_t n = points.size();
  std::vector<std::array<double, 2>> out(n, {0.0, 0.0});
  if (n < 2 || dim == 0)
    return out;
  const bool gram = n <= dim;
  std::vector<double> mean;
  if (!gram)
    mean = mean_of(points, dim);
  const eigen e = top_eigen(gram ? centered_gram(points, dim) : scatter(points, mean));
  const double largest = std::max(e.values[0], 0.0);
  for (std::size_t k = 0; k < std::min<std::size_t>(2, e.values.size()); ++k) {
    const double value = e.values[k];
    // Rounding leaves a tiny variance on axes that have none; report those as exactly 0.
    if (!(value > 1e-10 * largest) || value <= 0)
      continue;
    for (std::size_t i = 0; i < n; ++i) {
      if (gram) {
        // G u = l u  =>  the scores along the matching principal axis are sqrt(l) u.
        out[i][k] = std::sqrt(value) * e.vectors[k][i];
      } else {
        double s = 0;
        for (std::size_t d = 0; d < dim; ++d)
          s += (points[i][d] - mean[d]) * e.vectors[k][d];
        out[i][k] = s;
      }
    }
    std::size_t far = 0;
    for (std::size_t i = 1; i < n; ++i)
      if (std::abs(out[i][k]) > std::abs(out[far][k]))
        far = i;
    if (out[far][k] < 0)
      for (auto& p : out)
        p[k] = -p[k];
  }
  return out;
}

} // namespace flotilla::fl
