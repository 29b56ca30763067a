#include <doctest/doctest.h>

#include <numeric>

#include "fl/stragglers.hpp"

using namespace flotilla;

TEST_CASE("stragglers: round(p x participants) of them, each with 1 to E epochs, the same in every process") {
  std::vector<std::uint32_t> ids(10);
  std::iota(ids.begin(), ids.end(), 100u);
  auto s = fl::stragglers_of(ids, 0.5, 20, 3, 42);
  CHECK(s.size() == 5);
  for (auto [id, e] : s) {
    CHECK(id >= 100);
    CHECK(id < 110);
    CHECK(e >= 1);
    CHECK(e <= 20);
  }
  CHECK(fl::stragglers_of(ids, 0.5, 20, 3, 42) == s);
  CHECK(fl::stragglers_of(ids, 0.5, 20, 4, 42) != s); // another round, other stragglers
  CHECK(fl::stragglers_of(ids, 0.9, 20, 3, 42).size() == 9);
  CHECK(fl::stragglers_of(ids, 0.0, 20, 3, 42).empty());
  CHECK(fl::stragglers_of(ids, 1.0, 20, 3, 42).size() == 10);
  CHECK(fl::stragglers_of({}, 0.5, 20, 3, 42).empty());
  // E = 1: a straggler still runs its one epoch.
  for (auto [id, e] : fl::stragglers_of(ids, 1.0, 1, 3, 42))
    CHECK(e == 1);
}

TEST_CASE("stragglers' epochs cover 1..E about uniformly over many rounds") {
  std::vector<std::uint32_t> ids(10);
  std::iota(ids.begin(), ids.end(), 0u);
  std::vector<int> count(6, 0);
  for (std::uint32_t round = 1; round <= 2000; ++round)
    for (auto [id, e] : fl::stragglers_of(ids, 0.5, 5, round, 7))
      ++count.at(e);
  CHECK(count[0] == 0);
  for (int e = 1; e <= 5; ++e) {
    CAPTURE(e);
    CHECK(count[e] > 1800); // 10,000 draws over 5 values: 2,000 each, sd ~40
    CHECK(count[e] < 2200);
  }
}

TEST_CASE("the paper's defaults: FedAvg drops stragglers, FedProx keeps their partial work") {
  fl::straggler_options o;
  o.policy = "auto";
  CHECK(fl::keeps_stragglers(o, "fedprox"));
  CHECK_FALSE(fl::keeps_stragglers(o, "fedavg"));
  CHECK_FALSE(fl::keeps_stragglers(o, "fedadam"));
  o.policy = "keep";
  CHECK(fl::keeps_stragglers(o, "fedavg"));
  o.policy = "drop";
  CHECK_FALSE(fl::keeps_stragglers(o, "fedprox"));
}
