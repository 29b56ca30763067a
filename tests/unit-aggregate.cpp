#include <stdexcept>
#include <doctest/doctest.h>

#include <cmath>

#include "fl/aggregate.hpp"

using namespace flotilla;

TEST_CASE("fedavg weights clients by sample count") {
  std::vector<float> a{1, 2}, b{4, 8};
  auto avg = fl::fedavg({{0, 1, &a}, {1, 3, &b}});
  CHECK(avg[0] == doctest::Approx(3.25));
  CHECK(avg[1] == doctest::Approx(6.5));
}

TEST_CASE("fedavg is bit-identical whatever the arrival order") {
  std::vector<std::vector<float>> w;
  for (int c = 0; c < 7; ++c) {
    std::vector<float> v(1000);
    for (int i = 0; i < 1000; ++i)
      v[static_cast<std::size_t>(i)] = std::sin(static_cast<float>(c * 1000 + i)) * 1e3f;
    w.push_back(v);
  }
  std::vector<fl::weighted_update> forward, backward;
  for (std::uint32_t c = 0; c < 7; ++c)
    forward.push_back({c, 10 + c * 3, &w[c]});
  backward.assign(forward.rbegin(), forward.rend());
  CHECK(fl::fedavg(forward) == fl::fedavg(backward));
}

TEST_CASE("fedavg refuses what it cannot average") {
  std::vector<float> a{1, 2}, b{1, 2, 3};
  CHECK_THROWS_WITH_AS(fl::fedavg({}), "fedavg: no updates to aggregate", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::fedavg({{0, 1, &a}, {4, 1, &b}}),
                       "fedavg: update of client 4 has 3 weights, expected 2", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::fedavg({{0, 0, &a}}), "fedavg: updates carry no samples",
                       std::invalid_argument);
}

TEST_CASE("check_update catches wrong shapes and NaN") {
  CHECK(fl::check_update({1, 2, 3}, 3).empty());
  CHECK(fl::check_update({1, 2}, 3) == "update has 2 weights, the model has 3");
  CHECK(fl::check_update({1, NAN, 3}, 3) == "update has a non-finite weight (nan) at index 1");
  CHECK(fl::check_update({1, 2, INFINITY}, 3) == "update has a non-finite weight (inf) at index 2");
}
