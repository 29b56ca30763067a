#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <random>
#include <stdexcept>

#include "fl/pca.hpp"

using namespace flotilla;

namespace {

using rows = std::vector<std::vector<float>>;

std::vector<const float*> pointers(const rows& points) {
  std::vector<const float*> out;
  for (const auto& p : points)
    out.push_back(p.data());
  return out;
}

// Two orthonormal directions in `dim` dimensions, from a seeded generator.
std::array<std::vector<double>, 2> orthonormal_pair(std::size_t dim, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n(0, 1);
  std::array<std::vector<double>, 2> dirs{std::vector<double>(dim), std::vector<double>(dim)};
  for (auto& d : dirs)
    for (auto& x : d)
      x = n(rng);
  auto normalize = [](std::vector<double>& v) {
    double s = 0;
    for (auto x : v)
      s += x * x;
    for (auto& x : v)
      x /= std::sqrt(s);
  };
  normalize(dirs[0]);
  double proj = 0;
  for (std::size_t i = 0; i < dim; ++i)
    proj += dirs[0][i] * dirs[1][i];
  for (std::size_t i = 0; i < dim; ++i)
    dirs[1][i] -= proj * dirs[0][i];
  normalize(dirs[1]);
  return dirs;
}

double distance2d(const std::array<double, 2>& a, const std::array<double, 2>& b) {
  return std::hypot(a[0] - b[0], a[1] - b[1]);
}

} // namespace

TEST_CASE("pca2 recovers the axes of a 2-D configuration embedded in many dimensions") {
  // prepare: x in {-3,-1,1,3}, y in {-1,1}: mean 0, variances 5 and 1, uncorrelated, so the
  // principal axes are x then y. Embedded along two random directions plus a common offset.
  const std::size_t dim = 5000;
  auto dirs = orthonormal_pair(dim, 1);
  std::vector<std::array<double, 2>> plane;
  for (double x : {-3.0, -1.0, 1.0, 3.0})
    for (double y : {-1.0, 1.0})
      plane.push_back({x, y});
  rows points(plane.size(), std::vector<float>(dim));
  for (std::size_t i = 0; i < plane.size(); ++i)
    for (std::size_t d = 0; d < dim; ++d)
      points[i][d] = static_cast<float>(0.5 + plane[i][0] * dirs[0][d] + plane[i][1] * dirs[1][d]);

  // execute
  auto out = fl::pca2(pointers(points), dim);

  // assert: each axis equals the known one up to one sign for all points
  REQUIRE(out.size() == plane.size());
  for (int k = 0; k < 2; ++k) {
    const double sign = out[0][k] / plane[0][k] > 0 ? 1.0 : -1.0;
    for (std::size_t i = 0; i < plane.size(); ++i)
      CHECK(out[i][k] == doctest::Approx(sign * plane[i][k]).epsilon(1e-5));
  }
}

TEST_CASE("pca2 keeps the distances of points that lie in a plane") {
  const std::size_t dim = 3000;
  auto dirs = orthonormal_pair(dim, 2);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n(0, 1);
  std::vector<std::array<double, 2>> plane(15);
  for (auto& p : plane)
    p = {4 * n(rng), n(rng)};
  rows points(plane.size(), std::vector<float>(dim));
  for (std::size_t i = 0; i < plane.size(); ++i)
    for (std::size_t d = 0; d < dim; ++d)
      points[i][d] = static_cast<float>(-2.0 + plane[i][0] * dirs[0][d] + plane[i][1] * dirs[1][d]);

  auto out = fl::pca2(pointers(points), dim);

  double var0 = 0, var1 = 0;
  for (std::size_t i = 0; i < plane.size(); ++i) {
    var0 += out[i][0] * out[i][0];
    var1 += out[i][1] * out[i][1];
    for (std::size_t j = 0; j < i; ++j)
      CHECK(distance2d(out[i], out[j]) == doctest::Approx(distance2d(plane[i], plane[j])).epsilon(1e-5));
  }
  CHECK(var0 > var1);
}

TEST_CASE("pca2 separates four groups of 20 clients with 1.6 million weights each") {
  // prepare: a shared model (the common part of every client's weights), four group offsets on
  // a square in a random plane, and a little per-client noise.
  const std::size_t dim = 1'663'370, n = 20; // mcmahan_cnn's parameter count
  auto dirs = orthonormal_pair(dim, 5);
  std::mt19937_64 rng(6);
  std::normal_distribution<float> noise(0, 1);
  std::vector<float> shared(dim);
  for (auto& x : shared)
    x = 0.05f * noise(rng);
  rows points(n, std::vector<float>(dim));
  const double offsets[4][2] = {{10, 0}, {0, 10}, {-10, 0}, {0, -10}};
  for (std::size_t i = 0; i < n; ++i) {
    const auto& o = offsets[i % 4];
    for (std::size_t d = 0; d < dim; ++d)
      points[i][d] = shared[d] + static_cast<float>(o[0] * dirs[0][d] + o[1] * dirs[1][d]) + 1e-4f * noise(rng);
  }

  auto start = std::chrono::steady_clock::now();
  auto out = fl::pca2(pointers(points), dim);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("pca2 of 20 x 1,663,370 floats: " << seconds << " s");

  // assert: every point sits on its group's corner; corners are 10*sqrt(2) apart
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < i; ++j) {
      const double d = distance2d(out[i], out[j]);
      if (i % 4 == j % 4)
        CHECK(d < 0.1);
      else
        CHECK(d > 14.0);
    }
}

TEST_CASE("pca2 gives the same projection through the Gram and the covariance route") {
  // 30 points in 6 dimensions take the covariance route (n > dim); padded with zeros to 40
  // dimensions they take the Gram route (n <= dim), and block iteration (more than 8 points).
  std::mt19937_64 rng(7);
  std::normal_distribution<float> n(0, 1);
  rows small(30, std::vector<float>(6)), padded(30, std::vector<float>(40, 0.0f));
  const float scale[6] = {5, 3, 1, 0.5f, 0.2f, 0.1f};
  for (std::size_t i = 0; i < small.size(); ++i)
    for (std::size_t d = 0; d < 6; ++d)
      padded[i][d] = small[i][d] = 1.0f + scale[d] * n(rng);

  auto a = fl::pca2(pointers(small), 6);
  auto b = fl::pca2(pointers(padded), 40);

  for (std::size_t i = 0; i < small.size(); ++i) {
    CHECK(a[i][0] == doctest::Approx(b[i][0]).epsilon(1e-9));
    CHECK(a[i][1] == doctest::Approx(b[i][1]).epsilon(1e-9));
  }
}

TEST_CASE("pca2 finds the two strongest directions among many points") {
  // 300 points in 1000 dimensions with standard deviations 3, 2, 1 along three directions: the
  // principal axes are the first two, whatever the tiny noise.
  const std::size_t dim = 1000, n = 300;
  auto dirs = orthonormal_pair(dim, 8);
  auto third = orthonormal_pair(dim, 9)[0];
  std::mt19937_64 rng(10);
  std::normal_distribution<double> g(0, 1);
  rows points(n, std::vector<float>(dim));
  std::vector<std::array<double, 2>> truth(n);
  for (std::size_t i = 0; i < n; ++i) {
    truth[i] = {3 * g(rng), 2 * g(rng)};
    const double c = g(rng);
    for (std::size_t d = 0; d < dim; ++d)
      points[i][d] = static_cast<float>(truth[i][0] * dirs[0][d] + truth[i][1] * dirs[1][d] + c * third[d] +
                                        1e-3 * g(rng));
  }

  auto out = fl::pca2(pointers(points), dim);

  // |correlation| with the generating coordinates, axis by axis
  for (int k = 0; k < 2; ++k) {
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < n; ++i) {
      sxy += out[i][k] * truth[i][k];
      sxx += out[i][k] * out[i][k];
      syy += truth[i][k] * truth[i][k];
    }
    CHECK(std::abs(sxy) / std::sqrt(sxx * syy) > 0.98);
  }
}

TEST_CASE("pca2 is deterministic") {
  std::mt19937_64 rng(11);
  std::normal_distribution<float> n(0, 1);
  rows points(12, std::vector<float>(700));
  for (auto& p : points)
    for (auto& x : p)
      x = n(rng);
  CHECK(fl::pca2(pointers(points), 700) == fl::pca2(pointers(points), 700));
}

TEST_CASE("pca2 puts the point farthest along each axis on its positive side") {
  rows points{{0, 0, 0}, {1, 0, 0}, {2, 0.5f, 0}, {10, -1, 0}};
  auto out = fl::pca2(pointers(points), 3);
  CHECK(out[3][0] > 0);
  std::size_t far = 0;
  for (std::size_t i = 1; i < out.size(); ++i)
    if (std::abs(out[i][1]) > std::abs(out[far][1]))
      far = i;
  CHECK(out[far][1] > 0);
}

TEST_CASE("pca2 on degenerate inputs") {
  SUBCASE("no points") { CHECK(fl::pca2({}, 5).empty()); }
  SUBCASE("one point sits at the origin") {
    std::vector<float> p{1, 2, 3};
    CHECK(fl::pca2({p.data()}, 3) == std::vector<std::array<double, 2>>{{0.0, 0.0}});
  }
  SUBCASE("identical points all sit at the origin") {
    rows points(5, std::vector<float>{1, 2, 3, 4});
    for (const auto& p : fl::pca2(pointers(points), 4))
      CHECK(p == std::array<double, 2>{0.0, 0.0});
  }
  SUBCASE("two points lie on the first axis, half their distance from the origin") {
    rows points{{0, 0, 0, 0}, {3, 4, 0, 0}};
    auto out = fl::pca2(pointers(points), 4);
    CHECK(std::abs(out[0][0]) == doctest::Approx(2.5));
    CHECK(out[0][0] == doctest::Approx(-out[1][0]));
    CHECK(out[0][1] == 0.0);
    CHECK(out[1][1] == 0.0);
  }
  SUBCASE("collinear points have no second axis") {
    rows points{{0, 0}, {1, 1}, {3, 3}, {7, 7}};
    for (const auto& p : fl::pca2(pointers(points), 2))
      CHECK(p[1] == 0.0);
  }
}

TEST_CASE("pca2 refuses a null point") {
  std::vector<float> p{1, 2, 3};
  CHECK_THROWS_WITH_AS(fl::pca2({p.data(), nullptr}, 3),
                       "pca2: point 1 is null; pass one pointer per point to its dim floats",
                       std::invalid_argument);
}
