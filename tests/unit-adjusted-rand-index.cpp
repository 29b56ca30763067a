#include <doctest/doctest.h>

#include "fl/adjusted_rand_index.hpp"

using namespace flotilla;

TEST_CASE("adjusted rand index is 1 for equal partitions under renaming") {
  CHECK(fl::adjusted_rand_index({0, 0, 1, 1, 2, 2}, {5, 5, 3, 3, 9, 9}) == doctest::Approx(1.0));
}

TEST_CASE("adjusted rand index matches a worked example") {
  // sklearn.metrics.adjusted_rand_score([0,0,1,1], [0,0,1,2]) = 0.5714285714
  CHECK(fl::adjusted_rand_index({0, 0, 1, 1}, {0, 0, 1, 2}) == doctest::Approx(0.5714285714));
  // Crossed labelings score below zero.
  CHECK(fl::adjusted_rand_index({0, 0, 1, 1}, {0, 1, 0, 1}) == doctest::Approx(-0.5));
}
