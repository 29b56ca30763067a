#include <stdexcept>
#include <doctest/doctest.h>

#include <cmath>

#include "fl/adjusted_rand_index.hpp"
#include "fl/agglomerative.hpp"
#include "fl/kmeans.hpp"
#include "fl/pairwise.hpp"
#include "fl/silhouette.hpp"
#include "points_fixture.hpp"

using namespace flotilla;
using test::as_labels;

namespace {
test::points on_a_line(std::initializer_list<float> xs) {
  test::points p;
  for (float x : xs)
    p.add({x}, 0);
  return p;
}
} // namespace

TEST_CASE("silhouette of four points on a line, by hand") {
  // 0, 1 | 4, 5. Point 0: a = 1, b = (4 + 5) / 2 = 4.5, s = 3.5 / 4.5 = 7/9. Point 1: a = 1,
  // b = (3 + 4) / 2 = 3.5, s = 5/7. The other side mirrors it: the mean is (7/9 + 5/7) / 2.
  auto p = on_a_line({0, 1, 4, 5});
  CHECK(fl::silhouette(p.views(), 1, {0, 0, 1, 1}) == doctest::Approx((7.0 / 9 + 5.0 / 7) / 2));
  // Label values do not matter.
  CHECK(fl::silhouette(p.views(), 1, {7, 7, 3, 3}) == doctest::Approx((7.0 / 9 + 5.0 / 7) / 2));
  // A bad split scores lower: 0 | 1, 4, 5.
  CHECK(fl::silhouette(p.views(), 1, {0, 1, 1, 1}) < fl::silhouette(p.views(), 1, {0, 0, 1, 1}));
}

TEST_CASE("a singleton scores 0") {
  // 0, 1 | 4: point 0 has a = 1, b = 4 (s = 3/4); point 1 a = 1, b = 3 (s = 2/3); point 4 is alone.
  auto p = on_a_line({0, 1, 4});
  CHECK(fl::silhouette(p.views(), 1, {0, 0, 1}) == doctest::Approx((0.75 + 2.0 / 3) / 3));
}

TEST_CASE("silhouette from a distance matrix agrees with the one from points") {
  auto b = test::blobs(3, 5, 6, 9);
  std::vector<std::uint32_t> a;
  for (auto t : b.truth)
    a.push_back(static_cast<std::uint32_t>(t));
  std::vector<double> d;
  for (const auto& x : b.data)
    for (const auto& y : b.data) {
      double s = 0;
      for (std::size_t t = 0; t < 6; ++t)
        s += (double(x[t]) - y[t]) * (double(x[t]) - y[t]);
      d.push_back(std::sqrt(s));
    }
  CHECK(fl::silhouette_of_distances(d, a) == doctest::Approx(fl::silhouette(b.views(), 6, a)).epsilon(1e-12));
  CHECK(fl::silhouette(b.views(), 6, a) > 0.8);
}

TEST_CASE("silhouette refuses a labelling it cannot score") {
  auto p = on_a_line({0, 1, 4, 5});
  CHECK_THROWS_WITH_AS(fl::silhouette(p.views(), 1, {0, 0, 0, 0}),
                       "silhouette: 1 distinct clusters among 4 points; need 2 to points - 1", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::silhouette(p.views(), 1, {0, 1, 2, 3}),
                       "silhouette: 4 distinct clusters among 4 points; need 2 to points - 1", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::silhouette(p.views(), 1, {0, 1, 1}), "silhouette: 3 labels for 4 points",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::silhouette_of_distances(std::vector<double>(9, 1.0), {0, 1, 1, 0}),
                       "silhouette: 9 distances for 4 labels; need labels * labels", std::invalid_argument);
  p.data[2][0] = INFINITY;
  CHECK_THROWS_WITH_AS(fl::silhouette(p.views(), 1, {0, 0, 1, 1}),
                       "silhouette: the distance between points 0 and 2 is not finite", std::invalid_argument);
}

TEST_CASE("choose_k finds the true number of blobs") {
  for (int groups : {3, 4}) {
    CAPTURE(groups);
    auto b = test::blobs(groups, 6, 16, 21 + static_cast<std::uint64_t>(groups));
    auto views = b.views();
    auto by_ward = fl::choose_k(views, 16, 8, [&](std::uint32_t k) {
      return fl::agglomerative(views, 16, k, fl::linkage::ward);
    });
    CHECK(by_ward.k == static_cast<std::uint32_t>(groups));
    CHECK(by_ward.scores.size() == 7);
    CHECK(by_ward.scores.begin()->first == 2);
    CHECK(by_ward.scores.rbegin()->first == 8);
    CHECK(fl::adjusted_rand_index(as_labels(by_ward.assignment), b.truth) == doctest::Approx(1.0));
    auto by_kmeans = fl::choose_k(views, 16, 8, [&](std::uint32_t k) {
      return fl::kmeans(views, 16, {k, 5, 100, 1}).assignment;
    });
    CHECK(by_kmeans.k == static_cast<std::uint32_t>(groups));
  }
}

TEST_CASE("choose_k with one distance matrix for every k gives the same choice") {
  auto b = test::blobs(3, 5, 4099, 8);
  auto views = b.views();
  auto n = views.size();
  auto d = fl::squared_distances(views, 4099);
  auto once = fl::choose_k(views, 4099, 6, [&](std::uint32_t k) {
    return fl::agglomerate(d, n, k, fl::merge_rule::ward);
  });
  auto each = fl::choose_k(views, 4099, 6, [&](std::uint32_t k) {
    return fl::agglomerative(views, 4099, k, fl::linkage::ward);
  });
  CHECK(once.k == 3);
  CHECK(once.scores == each.scores);
  CHECK(once.assignment == each.assignment);
}

TEST_CASE("choose_k stops at n - 1 and ties go to the smaller k") {
  auto p = on_a_line({0, 1, 4, 5});
  auto views = p.views();
  auto c = fl::choose_k(views, 1, 10, [&](std::uint32_t k) {
    return fl::agglomerative(views, 1, k, fl::linkage::ward);
  });
  CHECK(c.scores.size() == 2); // k = 2 and 3
  CHECK(c.k == 2);
  CHECK(c.assignment == std::vector<std::uint32_t>{0, 0, 1, 1});
  // Identical points: every silhouette is 0, so the smallest k wins.
  auto same = on_a_line({2, 2, 2, 2, 2});
  auto same_views = same.views();
  auto t = fl::choose_k(same_views, 1, 4, [&](std::uint32_t k) {
    return fl::agglomerative(same_views, 1, k, fl::linkage::ward);
  });
  CHECK(t.k == 2);
  CHECK(t.scores == std::map<std::uint32_t, double>{{2, 0.0}, {3, 0.0}, {4, 0.0}});
}

TEST_CASE("choose_k refuses what it cannot try") {
  auto p = on_a_line({0, 1, 4, 5});
  auto views = p.views();
  auto ward = [&](std::uint32_t k) { return fl::agglomerative(views, 1, k, fl::linkage::ward); };
  CHECK_THROWS_WITH_AS(fl::choose_k(views, 1, 1, ward),
                       "choose_k: k_max = 1 with 4 points; need k_max >= 2 and at least 3 points",
                       std::invalid_argument);
  auto two = on_a_line({0, 1});
  CHECK_THROWS_WITH_AS(fl::choose_k(two.views(), 1, 5, ward),
                       "choose_k: k_max = 5 with 2 points; need k_max >= 2 and at least 3 points",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::choose_k(views, 1, 3, [](std::uint32_t) { return std::vector<std::uint32_t>{0, 1}; }),
                       "choose_k: the clustering for k = 2 gave 2 labels for 4 points", std::invalid_argument);
  CHECK_THROWS_WITH_AS(
    fl::choose_k(views, 1, 3, [](std::uint32_t) { return std::vector<std::uint32_t>{0, 1, 1, 1}; }),
    "choose_k: the clustering for k = 3 gave 2 clusters", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::choose_k(views, 1, 3, nullptr), "choose_k: no clustering function",
                       std::invalid_argument);
}
