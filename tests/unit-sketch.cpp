#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "fl/sketch.hpp"

using namespace flotilla;

namespace {
double distance(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}
} // namespace

TEST_CASE("a sketch is deterministic and keeps distances roughly") {
  std::mt19937_64 rng(4);
  std::normal_distribution<float> n(0, 1);
  std::vector<std::vector<float>> points(6, std::vector<float>(5000));
  for (auto& p : points)
    for (auto& x : p)
      x = n(rng);
  CHECK(fl::sketch(points[0], 256, 1) == fl::sketch(points[0], 256, 1));
  for (std::size_t i = 1; i < points.size(); ++i) {
    double full = distance(points[0], points[i]);
    double small = distance(fl::sketch(points[0], 256, 1), fl::sketch(points[i], 256, 1));
    CHECK(small / full == doctest::Approx(1.0).epsilon(0.25));
  }
}
