#include <doctest/doctest.h>

#include <stdexcept>

#include "fl/local_layers.hpp"

using namespace flotilla;

TEST_CASE("FedBN: a client's own layers go into the model it uses and never into what it sends") {
  fl::layer_ranges ranges{{1, 2}, {5, 1}};
  std::vector<float> model{0, 1, 2, 3, 4, 5, 6};
  // Before its first fit a client uses the model's values.
  CHECK(fl::with_local(model, ranges, {}) == model);
  std::vector<float> trained{10, 11, 12, 13, 14, 15, 16};
  auto own = fl::local_part(trained, ranges);
  CHECK(own == std::vector<float>{11, 12, 15});
  fl::keep_local(trained, model, ranges);
  CHECK(trained == std::vector<float>{10, 1, 2, 13, 14, 5, 16});
  CHECK(fl::with_local(model, ranges, own) == std::vector<float>{0, 11, 12, 3, 4, 15, 6});
}

TEST_CASE("FedBN: ranges past the model and local values of another size are refused") {
  std::vector<float> model(4, 0.0f);
  CHECK_THROWS_AS(fl::local_part(model, {{3, 2}}), std::invalid_argument);
  CHECK_THROWS_AS(fl::with_local(model, {{0, 2}}, {1, 2, 3}), std::invalid_argument);
  auto shorter = std::vector<float>(3, 0.0f);
  CHECK_THROWS_AS(fl::keep_local(shorter, model, {{0, 1}}), std::invalid_argument);
}
