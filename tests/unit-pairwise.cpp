#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "fl/pairwise.hpp"
#include "points_fixture.hpp"

using namespace flotilla;

TEST_CASE("squared distances of three points, by hand") {
  test::points p;
  p.add({0, 0}, 0);
  p.add({3, 4}, 0);
  p.add({1, 1}, 0);
  auto d = fl::squared_distances(p.views(), 2);
  CHECK(d == std::vector<double>{0, 25, 2, 25, 0, 13, 2, 13, 0});
}

TEST_CASE("blocked sums match a plain double sum across block and lane boundaries") {
  for (std::size_t dim : {1u, 7u, 8u, 2047u, 2048u, 2049u, 5003u}) {
    CAPTURE(dim);
    std::mt19937 rng(static_cast<unsigned>(dim));
    std::normal_distribution<float> x(0, 1);
    test::points p;
    for (int i = 0; i < 3; ++i) {
      std::vector<float> v(dim);
      for (auto& e : v)
        e = x(rng);
      p.add(v, 0);
    }
    auto d = fl::squared_distances(p.views(), dim);
    auto s = fl::cosine_similarities(p.views(), dim);
    double sq = 0, ab = 0, aa = 0, bb = 0;
    for (std::size_t t = 0; t < dim; ++t) {
      double a = p.data[0][t], b = p.data[2][t];
      sq += (a - b) * (a - b);
      ab += a * b;
      aa += a * a;
      bb += b * b;
    }
    CHECK(d[2] == doctest::Approx(sq).epsilon(1e-12));
    CHECK(d[6] == d[2]);
    CHECK(s[2] == doctest::Approx(ab / std::sqrt(aa * bb)).epsilon(1e-12));
  }
}

TEST_CASE("cosine similarity ignores length, and a zero vector is similar to nothing") {
  test::points p;
  p.add({1, 0}, 0);
  p.add({0, 2}, 0);
  p.add({-3, 0}, 0);
  p.add({0, 0}, 0);
  p.add({5, 0}, 0);
  auto s = fl::cosine_similarities(p.views(), 2);
  CHECK(s[0 * 5 + 0] == doctest::Approx(1.0));
  CHECK(s[0 * 5 + 1] == 0.0);
  CHECK(s[0 * 5 + 2] == doctest::Approx(-1.0));
  CHECK(s[0 * 5 + 4] == doctest::Approx(1.0));
  for (int j = 0; j < 5; ++j) {
    CHECK(s[3 * 5 + j] == 0.0);
    CHECK(s[j * 5 + 3] == 0.0);
  }
}

TEST_CASE("a NaN coordinate stays NaN, for callers to refuse") {
  test::points p;
  p.add({1, NAN}, 0);
  p.add({1, 0}, 0);
  CHECK(std::isnan(fl::squared_distances(p.views(), 2)[1]));
  CHECK(std::isnan(fl::cosine_similarities(p.views(), 2)[1]));
}
