#include <stdexcept>
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "fl/cfl.hpp"
#include "points_fixture.hpp"

using namespace flotilla;

namespace {
using ids = std::vector<std::uint32_t>;

// Members of two groups whose updates pull opposite ways along `dim` coordinates: group A
// (every member where `in_a` says so) moves along +v, group B along −v, each with its own
// noise; B's noise is A's negated, so with equal groups the mean is exactly 0.
test::points opposed(const std::vector<bool>& in_a, std::size_t dim, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0, 0.3f);
  std::vector<float> v(dim);
  for (std::size_t t = 0; t < dim; ++t)
    v[t] = t % 2 ? 1.0f : -0.5f;
  std::vector<std::vector<float>> noises;
  test::points p;
  std::size_t a_seen = 0, b_seen = 0;
  for (bool a : in_a) {
    auto& k = a ? a_seen : b_seen;
    if (k >= noises.size()) {
      std::vector<float> e(dim);
      for (auto& x : e)
        x = noise(rng);
      noises.push_back(e);
    }
    std::vector<float> u(dim);
    for (std::size_t t = 0; t < dim; ++t)
      u[t] = a ? v[t] + noises[k][t] : -v[t] - noises[k][t];
    ++k;
    p.add(u, a ? 0 : 1);
  }
  return p;
}

double norm(const std::vector<float>& u) {
  double s = 0;
  for (float x : u)
    s += double(x) * x;
  return std::sqrt(s);
}
} // namespace

TEST_CASE("cfl norms, by hand") {
  // (3, 4) and (−3, 0): mean (0, 2), norm 2; the largest update has norm 5.
  test::points p;
  p.add({3, 4}, 0);
  p.add({-3, 0}, 0);
  auto d = fl::cfl_check({4, 9}, p.views(), 2, 1.0, 1.0, 1);
  CHECK(d.mean_norm == doctest::Approx(2.0));
  CHECK(d.max_norm == doctest::Approx(5.0));
  CHECK_FALSE(d.split);
  CHECK(d.reason == "mean update norm 2 >= eps1 1");
  // With eps1 above the mean the two split, one each.
  auto s = fl::cfl_check({4, 9}, p.views(), 2, 2.5, 1.0, 1);
  CHECK(s.split);
  CHECK(s.first == ids{4});
  CHECK(s.second == ids{9});
  CHECK(s.reason.empty());
}

TEST_CASE("cfl splits two opposed groups whose mean update is near zero") {
  // 5,003 coordinates: several of the 2,048-wide blocks and a ragged end.
  std::vector<bool> in_a{true, false, false, true, true, false, true, false};
  auto p = opposed(in_a, 5003, 7);
  ids members{2, 3, 5, 8, 13, 21, 34, 55};
  double largest = 0;
  for (const auto& u : p.data)
    largest = std::max(largest, norm(u));
  auto d = fl::cfl_check(members, p.views(), 5003, 0.1, 0.5 * largest, 2);
  CHECK(d.mean_norm < 1e-6);
  CHECK(d.max_norm == doctest::Approx(largest));
  REQUIRE(d.split);
  CHECK(d.first == ids{2, 8, 13, 34});
  CHECK(d.second == ids{3, 5, 21, 55});
}

TEST_CASE("the side with the lowest id comes first") {
  auto p = opposed({false, true, true, false}, 64, 3);
  auto d = fl::cfl_check({1, 2, 3, 4}, p.views(), 64, 0.1, 1.0, 2);
  REQUIRE(d.split);
  CHECK(d.first == ids{1, 4}); // group B here, since client 1 is in it
  CHECK(d.second == ids{2, 3});
}

TEST_CASE("the bipartition is complete linkage, where average linkage would differ") {
  // Unit-length directions at 356, 32, 288, 148, 54 and 106 degrees. Complete linkage ends with
  // {356, 32, 54, 288} against {148, 106}; average linkage would put 288 alone.
  test::points p;
  for (auto [x, y] : std::vector<std::pair<float, float>>{
         {9.976f, -0.698f}, {8.48f, 5.299f}, {3.09f, -9.511f}, {-8.48f, 5.299f}, {5.878f, 8.09f}, {-2.756f, 9.613f}})
    p.add({x, y}, 0);
  auto d = fl::cfl_check({10, 11, 12, 13, 14, 15}, p.views(), 2, 1e9, 0.0, 1);
  REQUIRE(d.split);
  CHECK(d.first == ids{10, 11, 12, 14});
  CHECK(d.second == ids{13, 15});
}

TEST_CASE("cfl does not split aligned updates or when the thresholds say no") {
  auto p = opposed({true, false, true, false}, 64, 5);
  auto views = p.views();
  ids members{0, 1, 2, 3};
  SUBCASE("aligned updates: their mean is large") {
    auto aligned = opposed({true, true, true, true}, 64, 5);
    auto d = fl::cfl_check(members, aligned.views(), 64, 0.1, 1.0, 1);
    CHECK_FALSE(d.split);
    CHECK(d.mean_norm > 0.8 * d.max_norm); // opposed groups: about 0
    CHECK(d.reason.rfind("mean update norm ", 0) == 0);
  }
  SUBCASE("eps2 above the largest update") {
    auto d = fl::cfl_check(members, views, 64, 0.1, 1e6, 1);
    CHECK_FALSE(d.split);
    CHECK(d.first.empty());
    CHECK(d.reason.rfind("largest update norm ", 0) == 0);
  }
  SUBCASE("too few members for two sides of min_size") {
    auto d = fl::cfl_check(members, views, 64, 0.1, 1.0, 3);
    CHECK_FALSE(d.split);
    CHECK(d.reason == "4 members < 2 * min_size 3");
  }
  SUBCASE("a lone member never splits") {
    auto d = fl::cfl_check({7}, {p.data[0].data()}, 64, 1e9, 0.0, 1);
    CHECK_FALSE(d.split);
    CHECK(d.mean_norm == doctest::Approx(d.max_norm));
  }
}

TEST_CASE("a bipartition with a side below min_size is refused") {
  // Four equal updates and one four times as long the other way: the mean is 0 and complete
  // linkage puts the odd one alone.
  test::points p;
  for (int i = 0; i < 4; ++i)
    p.add({1, 2, -1}, 0);
  p.add({-4, -8, 4}, 1);
  ids members{0, 1, 2, 3, 4};
  auto refused = fl::cfl_check(members, p.views(), 3, 0.1, 1.0, 2);
  CHECK_FALSE(refused.split);
  CHECK(refused.reason == "the bipartition 4 + 1 leaves a side below min_size 2");
  auto allowed = fl::cfl_check(members, p.views(), 3, 0.1, 1.0, 1);
  REQUIRE(allowed.split);
  CHECK(allowed.first == ids{0, 1, 2, 3});
  CHECK(allowed.second == ids{4});
}

TEST_CASE("cfl_check refuses bad input") {
  test::points p;
  p.add({1, 0}, 0);
  p.add({0, 1}, 0);
  auto v = p.views();
  CHECK_THROWS_WITH_AS(fl::cfl_check({0}, v, 2, 1, 1, 1), "cfl_check: 1 ids for 2 updates", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::cfl_check({}, {}, 2, 1, 1, 1), "cfl_check: no updates", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::cfl_check({3, 3}, v, 2, 1, 1, 1), "cfl_check: ids must be strictly ascending (3 before 3)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::cfl_check({0, 1}, v, 2, -1, 1, 1), "cfl_check: eps1 = -1, eps2 = 1; both must be >= 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::cfl_check({0, 1}, v, 2, 1, NAN, 1), "cfl_check: eps1 = 1, eps2 = nan; both must be >= 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::cfl_check({0, 1}, v, 2, 1, 1, 0), "cfl_check: min_size must be at least 1",
                       std::invalid_argument);
  p.data[1][0] = INFINITY;
  CHECK_THROWS_WITH_AS(fl::cfl_check({5, 6}, p.views(), 2, 1, 1, 1),
                       "cfl_check: the update of client 6 is not finite (NaN or infinite values)",
                       std::invalid_argument);
}
