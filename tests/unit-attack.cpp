// Simulated model poisoning: each attack kind's update against values worked out by hand.
#include <doctest/doctest.h>

#include <cmath>

#include "fl/attack.hpp"

using namespace flotilla;
using doctest::Approx;

namespace {
fl::attack_options attack(const std::string& kind, double scale) {
  fl::attack_options a;
  a.clients = {0};
  a.kind = kind;
  a.scale = scale;
  return a;
}
} // namespace

TEST_CASE("sign_flip and scale send the update reversed or stretched") {
  std::vector<float> global{1, 2}, local{2, 0}; // update = [1, -2]
  CHECK(fl::poison(attack("sign_flip", 10), global, local, 1) == std::vector<float>{-9, 22});
  CHECK(fl::poison(attack("scale", 3), global, local, 1) == std::vector<float>{4, -4});
  CHECK(fl::poison(attack("label_flip", 3), global, local, 1) == local);
}

TEST_CASE("gaussian sends seeded noise whose norm is scale times the update's") {
  std::vector<float> global(1000, 0.5f), local(1000, 0.5f);
  local[0] = 3.5f; // update norm 3
  auto a = fl::poison(attack("gaussian", 2), global, local, 42);
  double norm2 = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    norm2 += (a[i] - 0.5) * (a[i] - 0.5);
  CHECK(std::sqrt(norm2) == Approx(6).epsilon(1e-5));
  CHECK(a == fl::poison(attack("gaussian", 2), global, local, 42));
  CHECK(a != fl::poison(attack("gaussian", 2), global, local, 43));
}

TEST_CASE("label_flip maps y to 9 - y after the client's own relabelling") {
  CHECK(fl::flipped_labels({}, 10) == std::vector<std::int64_t>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  CHECK(fl::flipped_labels({1, 0, 2}, 3) == std::vector<std::int64_t>{1, 2, 0});
}
