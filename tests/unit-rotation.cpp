#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "data/rotation.hpp"

using namespace flotilla;

TEST_CASE("0 degrees needs no map") {
  CHECK(data::rotation_map(28, 28, 0).empty());
  CHECK(data::rotation_map(28, 28, 360).empty());
}

TEST_CASE("multiples of 90 degrees are exact permutations") {
  for (double deg : {90.0, 180.0, 270.0}) {
    auto map = data::rotation_map(4, 4, deg);
    std::vector<std::int32_t> sorted = map;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::int32_t> identity(16);
    std::iota(identity.begin(), identity.end(), 0);
    CHECK(sorted == identity);
  }
}

TEST_CASE("90 degrees turns counter-clockwise and four turns are the identity") {
  // Output (y, x) of a 90-degree CCW turn comes from source (x, n-1-y)... check a corner:
  // the source's top-right corner (0, 3) ends at the output's top-left (0, 0).
  auto map = data::rotation_map(4, 4, 90);
  CHECK(map[0] == 3);
  std::vector<std::int32_t> p(16);
  std::iota(p.begin(), p.end(), 0);
  auto q = p;
  for (int turn = 0; turn < 4; ++turn) {
    std::vector<std::int32_t> next(16);
    for (std::size_t i = 0; i < 16; ++i)
      next[i] = q[static_cast<std::size_t>(map[i])];
    q = next;
  }
  CHECK(q == p);
}

TEST_CASE("other angles leave corners to the background") {
  auto map = data::rotation_map(28, 28, 45);
  CHECK(map[0] == -1);               // a corner comes from outside the image
  CHECK(map[14 * 28 + 14] >= 0);     // the centre stays inside
}
