#include <stdexcept>
#include <doctest/doctest.h>

#include <cmath>

#include "fl/aggregate.hpp"

using namespace flotilla;

TEST_CASE("fedavg weights clients by sample count") {
  std::vector<float> a{1, 2}, b{4, 8};
  auto avg = fl::weighted_mean({{0, 1, &a}, {1, 3, &b}});
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
  CHECK(fl::weighted_mean(forward) == fl::weighted_mean(backward));
}

TEST_CASE("fedavg refuses what it cannot average") {
  std::vector<float> a{1, 2}, b{1, 2, 3};
  CHECK_THROWS_WITH_AS(fl::weighted_mean({}), "fedavg: no updates to aggregate", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::weighted_mean({{0, 1, &a}, {4, 1, &b}}),
                       "fedavg: client 4: update has 3 weights, expected 2", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::weighted_mean({{0, 0, &a}}), "fedavg: updates carry no samples",
                       std::invalid_argument);
}

TEST_CASE("check_update catches wrong shapes and NaN") {
  CHECK(fl::check_update({1, 2, 3}, 3).empty());
  CHECK(fl::check_update({1, 2}, 3) == "update has 2 weights, the model has 3");
  CHECK(fl::check_update({1, NAN, 3}, 3) == "update has a non-finite weight (nan) at index 1");
  CHECK(fl::check_update({1, 2, INFINITY}, 3) == "update has a non-finite weight (inf) at index 2");
}

TEST_CASE("the streaming accumulator gives the same bits in any order") {
  std::vector<std::vector<float>> w;
  for (int c = 0; c < 5; ++c) {
    std::vector<float> v(257);
    for (std::size_t i = 0; i < v.size(); ++i)
      v[i] = std::cos(static_cast<float>(c * 300 + static_cast<int>(i))) * static_cast<float>(i + 1) * 1e-3f;
    w.push_back(v);
  }
  fl::fedavg_accumulator a(257), b(257);
  for (int c = 0; c < 5; ++c)
    a.add(static_cast<std::uint64_t>(7 + c), w[static_cast<std::size_t>(c)]);
  for (int c : {3, 0, 4, 2, 1})
    b.add(static_cast<std::uint64_t>(7 + c), w[static_cast<std::size_t>(c)]);
  CHECK(a.mean() == b.mean());
  CHECK(a.count() == 5);
  CHECK(a.samples() == 7 + 8 + 9 + 10 + 11);
  // And it is the weighted mean to float precision.
  double expect = 0;
  for (int c = 0; c < 5; ++c)
    expect += (7 + c) * static_cast<double>(w[static_cast<std::size_t>(c)][100]);
  CHECK(a.mean()[100] == doctest::Approx(expect / 45).epsilon(1e-6));
}

TEST_CASE("the accumulator refuses weights it cannot sum exactly") {
  fl::fedavg_accumulator acc(2);
  CHECK_THROWS_WITH_AS(acc.add(1, {1.0f, 2e7f}),
                       "fedavg: weight 20000000.000000 at index 1 is not finite or beyond +-1e6",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(acc.mean(), "fedavg: no updates to aggregate", std::invalid_argument);
  CHECK(fl::check_update({1, -2e6f}, 2) ==
        "update has a weight of -2000000.000000 at index 1 (beyond +-1e6: a diverged model)");
}
