#include <stdexcept>
#include <doctest/doctest.h>

#include <cmath>

#include "fl/kmeans.hpp"
#include "fl/nearest.hpp"
#include "points_fixture.hpp"

using namespace flotilla;

TEST_CASE("nearest centroid, by hand, ties to the lower index") {
  std::vector<float> x{0, 0};
  auto p = fl::nearest_centroid(x.data(), 2, {{3, 4}, {1, 0}, {0, -1}});
  CHECK(p.cluster == 1);
  CHECK(p.distances == std::vector<double>{5, 1, 1});
  std::vector<float> y{3, 3.5f};
  CHECK(fl::nearest_centroid(y.data(), 2, {{3, 4}, {1, 0}, {0, -1}}).cluster == 0);
}

TEST_CASE("a late joiner goes to the cluster of its blob") {
  auto b = test::blobs(3, 8, 16, 4);
  auto km = fl::kmeans(b.views(), 16, {3, 5, 100, 2});
  auto centroids = fl::centroids_of(b.views(), 16, km.assignment, 3);
  auto late = test::blobs(3, 1, 16, 99); // one new point per blob, groups 0, 1, 2
  for (std::size_t g = 0; g < 3; ++g) {
    auto p = fl::nearest_centroid(late.data[g].data(), 16, centroids);
    CHECK(p.cluster == km.assignment[g]); // point g of the training blobs is in group g too
  }
}

TEST_CASE("centroids are per-cluster means, by hand") {
  test::points p;
  p.add({0, 0}, 0);
  p.add({10, 10}, 1);
  p.add({2, 4}, 0);
  p.add({1, 0.5f}, 0);
  auto c = fl::centroids_of(p.views(), 2, {0, 1, 0, 0}, 2);
  CHECK(c == std::vector<std::vector<float>>{{1, 1.5f}, {10, 10}});
}

TEST_CASE("nearest_centroid and centroids_of refuse bad input") {
  std::vector<float> x{0, 0};
  CHECK_THROWS_WITH_AS(fl::nearest_centroid(x.data(), 2, {}), "nearest_centroid: no centroids", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::nearest_centroid(x.data(), 2, {{1, 1}, {1, 1, 1}}),
                       "nearest_centroid: centroid 1 has 3 values, the features 2", std::invalid_argument);
  std::vector<float> bad{NAN, 0};
  CHECK_THROWS_WITH_AS(fl::nearest_centroid(bad.data(), 2, {{1, 1}}),
                       "nearest_centroid: the distance to centroid 0 is not finite (NaN or infinite values)",
                       std::invalid_argument);
  test::points p;
  p.add({0, 0}, 0);
  p.add({1, 1}, 0);
  CHECK_THROWS_WITH_AS(fl::centroids_of(p.views(), 2, {0}, 1), "centroids_of: 1 labels for 2 points",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::centroids_of(p.views(), 2, {0, 2}, 2), "centroids_of: point 1 is in cluster 2 of 2",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::centroids_of(p.views(), 2, {0, 0}, 2), "centroids_of: cluster 1 of 2 has no points",
                       std::invalid_argument);
}
