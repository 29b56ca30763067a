#include <stdexcept>
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "fl/adjusted_rand_index.hpp"
#include "fl/agglomerative.hpp"
#include "points_fixture.hpp"

using namespace flotilla;
using test::as_labels;

namespace {
using labels = std::vector<std::uint32_t>;

// The textbook algorithm, O(n^4): merge the two clusters with the smallest `cost` (computed
// from their member lists), ties to the lowest pair; labels by first appearance.
template <typename Cost>
labels by_definition(std::size_t n, std::uint32_t k, Cost cost) {
  std::vector<std::vector<std::size_t>> clusters;
  for (std::size_t i = 0; i < n; ++i)
    clusters.push_back({i});
  while (clusters.size() > k) {
    std::size_t a = 0, b = 1;
    double best = cost(clusters[0], clusters[1]);
    for (std::size_t x = 0; x < clusters.size(); ++x)
      for (std::size_t y = x + 1; y < clusters.size(); ++y)
        if (auto c = cost(clusters[x], clusters[y]); c < best) {
          best = c;
          a = x;
          b = y;
        }
    clusters[a].insert(clusters[a].end(), clusters[b].begin(), clusters[b].end());
    clusters.erase(clusters.begin() + static_cast<std::ptrdiff_t>(b));
  }
  labels out(n);
  for (std::uint32_t c = 0; c < clusters.size(); ++c)
    for (auto i : clusters[c])
      out[i] = c; // clusters stay ordered by their lowest member, so c is the first-appearance label
  return out;
}

// 1-D points as a matrix of |x - y| (or its square for Ward).
std::vector<double> line_matrix(const std::vector<double>& x, bool squared) {
  std::vector<double> d;
  for (double a : x)
    for (double b : x)
      d.push_back(squared ? (a - b) * (a - b) : std::abs(a - b));
  return d;
}
} // namespace

TEST_CASE("agglomerative recovers separated blobs with both linkages") {
  auto b = test::blobs(4, 10, 64, 11);
  for (auto l : {fl::linkage::ward, fl::linkage::average_cosine}) {
    auto a = fl::agglomerative(b.views(), 64, 4, l);
    CHECK(fl::adjusted_rand_index(as_labels(a), b.truth) == doctest::Approx(1.0));
    CHECK(a[0] == 0); // numbered by first appearance
    CHECK(a[1] == 1);
  }
}

TEST_CASE("1,000 points of 64 dimensions in 5 blobs are recovered") {
  auto b = test::blobs(5, 200, 64, 4);
  auto ward = fl::agglomerative(b.views(), 64, 5, fl::linkage::ward);
  auto cosine = fl::agglomerative(b.views(), 64, 5, fl::linkage::average_cosine);
  CHECK(fl::adjusted_rand_index(as_labels(ward), b.truth) == doctest::Approx(1.0));
  CHECK(fl::adjusted_rand_index(as_labels(cosine), b.truth) == doctest::Approx(1.0));
}

TEST_CASE("the Lance-Williams updates agree with each linkage's definition") {
  std::mt19937 rng(17);
  std::normal_distribution<float> x(0, 1);
  test::points p;
  for (int i = 0; i < 24; ++i)
    p.add({x(rng), x(rng), x(rng)}, 0);
  auto n = p.data.size();
  auto at = [&](std::size_t i, std::size_t t) { return static_cast<double>(p.data[i][t]); };
  // Ward: the increase of the within-cluster sum of squares, n_a n_b / (n_a + n_b) ‖c_a − c_b‖².
  auto ward_cost = [&](const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
    double d2 = 0;
    for (std::size_t t = 0; t < 3; ++t) {
      double ca = 0, cb = 0;
      for (auto i : a)
        ca += at(i, t) / static_cast<double>(a.size());
      for (auto i : b)
        cb += at(i, t) / static_cast<double>(b.size());
      d2 += (ca - cb) * (ca - cb);
    }
    return static_cast<double>(a.size() * b.size()) / static_cast<double>(a.size() + b.size()) * d2;
  };
  auto cosine_distance = [&](std::size_t i, std::size_t j) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t t = 0; t < 3; ++t) {
      ab += at(i, t) * at(j, t);
      aa += at(i, t) * at(i, t);
      bb += at(j, t) * at(j, t);
    }
    return 1 - ab / std::sqrt(aa * bb);
  };
  auto average_cost = [&](const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
    double sum = 0;
    for (auto i : a)
      for (auto j : b)
        sum += cosine_distance(i, j);
    return sum / static_cast<double>(a.size() * b.size());
  };
  auto complete_cost = [&](const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
    double worst = -1e300;
    for (auto i : a)
      for (auto j : b)
        worst = std::max(worst, cosine_distance(i, j));
    return worst;
  };
  std::vector<double> cosine(n * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      cosine[i * n + j] = cosine_distance(i, j);
  for (std::uint32_t k = 1; k <= n; ++k) {
    CAPTURE(k);
    CHECK(fl::agglomerative(p.views(), 3, k, fl::linkage::ward) == by_definition(n, k, ward_cost));
    CHECK(fl::agglomerative(p.views(), 3, k, fl::linkage::average_cosine) == by_definition(n, k, average_cost));
    CHECK(fl::agglomerate(cosine, n, k, fl::merge_rule::complete) == by_definition(n, k, complete_cost));
  }
}

TEST_CASE("Ward's merges on a line, by hand") {
  // 0, 1, 3, 7: {0,1} first (d² 1); then {0,1} to 3 costs (2·9 + 2·4 − 1)/3 = 25/3 < 16 = 3 to 7.
  test::points p;
  for (float x : {0.0f, 1.0f, 3.0f, 7.0f})
    p.add({x}, 0);
  CHECK(fl::agglomerative(p.views(), 1, 3, fl::linkage::ward) == labels{0, 0, 1, 2});
  CHECK(fl::agglomerative(p.views(), 1, 2, fl::linkage::ward) == labels{0, 0, 0, 1});
  CHECK(fl::agglomerate(line_matrix({0, 1, 3, 7}, true), 4, 2, fl::merge_rule::ward) == labels{0, 0, 0, 1});
}

TEST_CASE("complete and average linkage differ on a line, and ties merge the lowest indices") {
  // 0, 2, 5, 9: {0,2} first. Complete: {0,2}–5 is 5, 5–9 is 4, so {5,9}. Average: {0,2}–5 is
  // (5 + 3) / 2 = 4, a tie with 5–9, and the pair with the lower indices merges.
  auto d = line_matrix({0, 2, 5, 9}, false);
  CHECK(fl::agglomerate(d, 4, 2, fl::merge_rule::complete) == labels{0, 0, 1, 1});
  CHECK(fl::agglomerate(d, 4, 2, fl::merge_rule::average) == labels{0, 0, 0, 1});
}

TEST_CASE("equal dissimilarities merge in index order") {
  std::vector<double> d(16, 1.0);
  for (int i = 0; i < 4; ++i)
    d[i * 4 + i] = 0;
  for (auto rule : {fl::merge_rule::ward, fl::merge_rule::average, fl::merge_rule::complete}) {
    CHECK(fl::agglomerate(d, 4, 3, rule) == labels{0, 0, 1, 2});
    CHECK(fl::agglomerate(d, 4, 2, rule) == labels{0, 0, 0, 1});
  }
}

TEST_CASE("negative dissimilarities work (CFL clusters on minus the similarity)") {
  // Similarities: 0~1 and 2~3 alike, the pairs opposed.
  std::vector<double> s{1, 0.9, -0.8, -0.9, 0.9, 1, -0.7, -0.8, -0.8, -0.7, 1, 0.95, -0.9, -0.8, 0.95, 1};
  for (auto& x : s)
    x = -x;
  CHECK(fl::agglomerate(s, 4, 2, fl::merge_rule::complete) == labels{0, 0, 1, 1});
}

TEST_CASE("cosine linkage separates directions that Ward mixes") {
  // Two directions, each with short and long updates: Euclidean distance sees short vs long,
  // the angle sees the two directions.
  test::points p;
  for (float m : {1.0f, 1.2f, 25.0f, 1.4f, 22.0f, 20.0f}) {
    p.add({m, 0.05f * m}, 0);
    p.add({0.05f * m, m}, 1);
  }
  auto cosine = fl::agglomerative(p.views(), 2, 2, fl::linkage::average_cosine);
  auto ward = fl::agglomerative(p.views(), 2, 2, fl::linkage::ward);
  CHECK(fl::adjusted_rand_index(as_labels(cosine), p.truth) == doctest::Approx(1.0));
  CHECK(fl::adjusted_rand_index(as_labels(ward), p.truth) < 0.5);
  CHECK(ward[0] == ward[1]); // the short updates of both directions together
}

TEST_CASE("Ward separates lengths that cosine linkage mixes") {
  // Short and long updates along the same three directions.
  test::points p;
  for (float m : {1.0f, 10.0f}) {
    p.add({m, 1.1f * m}, m > 1);
    p.add({1.1f * m, m}, m > 1);
    p.add({m, m}, m > 1);
  }
  auto ward = fl::agglomerative(p.views(), 2, 2, fl::linkage::ward);
  auto cosine = fl::agglomerative(p.views(), 2, 2, fl::linkage::average_cosine);
  CHECK(ward == labels{0, 0, 0, 1, 1, 1});
  CHECK(fl::adjusted_rand_index(as_labels(cosine), p.truth) < 0.5);
}

TEST_CASE("a zero vector is at cosine distance 1 from everything") {
  test::points p;
  p.add({1, 0}, 0);
  p.add({0, 0}, 1);
  p.add({2, 0.1f}, 0);
  p.add({0, 3}, 2);
  p.add({0.1f, 2}, 2);
  CHECK(fl::agglomerative(p.views(), 2, 3, fl::linkage::average_cosine) == labels{0, 1, 0, 2, 2});
}

TEST_CASE("agglomerative handles k = 1 and k = n and is deterministic") {
  auto b = test::blobs(3, 3, 8, 1);
  CHECK(fl::agglomerative(b.views(), 8, 1, fl::linkage::ward) == labels(9, 0));
  CHECK(fl::agglomerative(b.views(), 8, 9, fl::linkage::average_cosine) == labels{0, 1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(fl::agglomerative(b.views(), 8, 4, fl::linkage::ward) == fl::agglomerative(b.views(), 8, 4, fl::linkage::ward));
}

TEST_CASE("agglomerative refuses a bad k, a bad matrix and non-finite distances") {
  auto b = test::blobs(2, 2, 4, 1);
  CHECK_THROWS_WITH_AS(fl::agglomerative(b.views(), 4, 0, fl::linkage::ward),
                       "agglomerative: k = 0 for 4 points; need 1 <= k <= points", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::agglomerative(b.views(), 4, 5, fl::linkage::average_cosine),
                       "agglomerative: k = 5 for 4 points; need 1 <= k <= points", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::agglomerate(std::vector<double>(15, 1.0), 4, 2, fl::merge_rule::average),
                       "agglomerative: 15 dissimilarities for 4 points; need points * points",
                       std::invalid_argument);
  b.data[2][1] = NAN;
  for (auto l : {fl::linkage::ward, fl::linkage::average_cosine})
    CHECK_THROWS_WITH_AS(fl::agglomerative(b.views(), 4, 2, l),
                         "agglomerative: the distance between points 0 and 2 is not finite (NaN or infinite "
                         "coordinates?)",
                         std::invalid_argument);
}
