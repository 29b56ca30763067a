#include <stdexcept>
#include <doctest/doctest.h>

#include <algorithm>


#include "fl/adjusted_rand_index.hpp"
#include "fl/kmeans.hpp"
#include "fl/small_clusters.hpp"
#include "points_fixture.hpp"

using namespace flotilla;

namespace {
using flotilla::test::blobs;
auto make_blobs = blobs;

std::vector<std::int64_t> as_labels(const std::vector<std::uint32_t>& a) {
  return {a.begin(), a.end()};
}
} // namespace

TEST_CASE("kmeans recovers well-separated clusters") {
  auto b = make_blobs(4, 10, 64, 11);
  auto r = fl::kmeans(b.views(), 64, {4, 10, 100, 3});
  CHECK(fl::adjusted_rand_index(as_labels(r.assignment), b.truth) == doctest::Approx(1.0));
  CHECK(r.centers.size() == 4);
  CHECK(r.assignment[0] == 0); // clusters numbered by first member
}

TEST_CASE("kmeans is deterministic in its seed") {
  auto b = make_blobs(3, 8, 16, 5);
  auto x = fl::kmeans(b.views(), 16, {3, 5, 100, 42});
  auto y = fl::kmeans(b.views(), 16, {3, 5, 100, 42});
  CHECK(x.assignment == y.assignment);
  CHECK(x.inertia == y.inertia);
}

TEST_CASE("kmeans restarts are independent and the lowest inertia wins") {
  // Overlapping blobs and k above their count: restarts land in different local optima.
  auto b = make_blobs(4, 6, 8, 2);
  auto many = fl::kmeans(b.views(), 8, {6, 20, 100, 9});
  const auto& all = many.restart_inertias;
  REQUIRE(all.size() == 20);
  auto lowest = *std::min_element(all.begin(), all.end());
  CHECK(many.inertia == lowest);
  // The data gives restarts different outcomes, so keeping the first or the last would fail.
  CHECK(*std::max_element(all.begin(), all.end()) > lowest);
  CHECK((all.front() > lowest || all.back() > lowest));
  // A single restart is the first of the many: same seed, same first generator.
  CHECK(fl::kmeans(b.views(), 8, {6, 1, 100, 9}).inertia == all.front());
}

TEST_CASE("kmeans handles k = 1 and k = n, and refuses k > n") {
  auto b = make_blobs(2, 2, 4, 1);
  auto one = fl::kmeans(b.views(), 4, {1, 1, 10, 0});
  CHECK(one.assignment == std::vector<std::uint32_t>{0, 0, 0, 0});
  auto all = fl::kmeans(b.views(), 4, {4, 3, 10, 0});
  CHECK(all.assignment == std::vector<std::uint32_t>{0, 1, 2, 3});
  CHECK(all.inertia == doctest::Approx(0.0));
  CHECK_THROWS_WITH_AS(fl::kmeans(b.views(), 4, {5, 1, 10, 0}),
                       "kmeans: k = 5 for 4 points; need 1 <= k <= points", std::invalid_argument);
}

TEST_CASE("privacy.secure_aggregation: clusters too small to hide an update join their nearest cluster") {
  // Three groups on a line: 4 points at 0, 2 at 10, 1 at 12; clusters 0, 1, 2.
  std::vector<std::vector<float>> xs{{0}, {0.1f}, {0.2f}, {0.3f}, {10}, {10.1f}, {12}};
  std::vector<const float*> points;
  for (const auto& x : xs)
    points.push_back(x.data());
  std::vector<std::uint32_t> a{0, 0, 0, 0, 1, 1, 2};
  SUBCASE("nothing too small: unchanged") {
    auto b = a;
    CHECK(fl::merge_small_clusters(b, points, 1, 3, 1) == 3);
    CHECK(b == a);
  }
  SUBCASE("the smallest first, into the nearest centroid, then renumbered in order") {
    auto b = a;
    // min 3: cluster 2 (1 point, at 12) joins cluster 1 (centroid 10.05), which then has 3.
    CHECK(fl::merge_small_clusters(b, points, 1, 3, 3) == 2);
    CHECK(b == std::vector<std::uint32_t>{0, 0, 0, 0, 1, 1, 1});
  }
  SUBCASE("until every cluster is big enough, or one is left") {
    auto b = a;
    CHECK(fl::merge_small_clusters(b, points, 1, 3, 4) == 1); // {4,5,6} has 3 < 4 after the first merge: it merges too
    CHECK(b == std::vector<std::uint32_t>(7, 0));
  }
  SUBCASE("the smallest goes first: another order would give another result") {
    // Clusters of 1 (at 0), 2 (at 3), 3 (at 4) points; min 3. Smallest first: cluster 0 joins
    // cluster 1 (3 is nearer than 4), which then has 3: two clusters. Cluster 1 first would
    // join cluster 2 (at distance 1), and cluster 0 would follow it: one cluster.
    std::vector<std::vector<float>> ys{{0}, {3}, {3}, {4}, {4}, {4}};
    std::vector<const float*> q;
    for (const auto& y : ys)
      q.push_back(y.data());
    std::vector<std::uint32_t> b{0, 1, 1, 2, 2, 2};
    CHECK(fl::merge_small_clusters(b, q, 1, 3, 3) == 2);
    CHECK(b == std::vector<std::uint32_t>{0, 0, 0, 1, 1, 1});
  }
  SUBCASE("an empty cluster is left alone") {
    auto b = a;
    CHECK(fl::merge_small_clusters(b, points, 1, 4, 3) == 3); // cluster 3 is empty; cluster 2 merges
    CHECK(b == std::vector<std::uint32_t>{0, 0, 0, 0, 1, 1, 1});
  }
  SUBCASE("the size a secure cluster needs, counting the round's sample") {
    CHECK(fl::secure_cluster_size(3, 1.0, 0, false, 100) == 4);  // everyone asked: the server and 3
    CHECK(fl::secure_cluster_size(3, 0.5, 0, false, 100) == 7);  // 7 ask ceil(3.5) = 4
    CHECK(fl::secure_cluster_size(3, 1.0, 0.5, false, 100) == 8); // 8 ask 8, 4 stragglers not asked
    CHECK(fl::secure_cluster_size(3, 1.0, 0.5, true, 100) == 4);  // stragglers kept
    CHECK(fl::secure_cluster_size(3, 0.01, 0, false, 50) == 50);  // never enough: everyone in one
  }
  SUBCASE("hostile labels") {
    auto b = a;
    b[0] = 3;
    CHECK_THROWS_AS(fl::merge_small_clusters(b, points, 1, 3, 2), std::invalid_argument);
    std::vector<std::uint32_t> short_list{0};
    CHECK_THROWS_AS(fl::merge_small_clusters(short_list, points, 1, 3, 2), std::invalid_argument);
  }
}
