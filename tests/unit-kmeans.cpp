#include <stdexcept>
#include <doctest/doctest.h>

#include <algorithm>

#include <random>

#include "fl/adjusted_rand_index.hpp"
#include "fl/kmeans.hpp"

using namespace flotilla;

namespace {
// n points around each of `groups` centres far apart in `dim` dimensions; truth[i] = group.
struct blobs {
  std::vector<std::vector<float>> data;
  std::vector<std::int64_t> truth;
  std::vector<const float*> views() const {
    std::vector<const float*> out;
    for (const auto& d : data)
      out.push_back(d.data());
    return out;
  }
};

blobs make_blobs(int groups, int per_group, std::size_t dim, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0, 0.5f);
  blobs b;
  // Interleave groups so cluster labels cannot follow input order by accident.
  for (int i = 0; i < per_group; ++i)
    for (int g = 0; g < groups; ++g) {
      std::vector<float> p(dim);
      for (std::size_t d = 0; d < dim; ++d)
        p[d] = (d % static_cast<std::size_t>(groups) == static_cast<std::size_t>(g) ? 10.0f : 0.0f) + noise(rng);
      b.data.push_back(p);
      b.truth.push_back(g);
    }
  return b;
}

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
