#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>

#include "fl/privacy/dp_fedavg.hpp"

using namespace flotilla;
using fl::privacy::dp_fedavg_step;

TEST_CASE("DP-FedAvg's step without noise is the fixed-denominator mean of the updates (hand-computed)") {
  std::vector<float> current{1.0f, -2.0f};
  std::vector<float> mean{2.0f, 0.0f}; // two accepted updates averaging +1 and +2
  auto key = fl::privacy::central_key(1, 0, 1);
  // Both of 2 asked answered: the mean itself.
  CHECK(dp_fedavg_step(current, mean, 2, 2, 0.0, 1.0, key) == std::vector<float>{2.0f, 0.0f});
  // 2 of 4 asked: the sum of the updates (2, 4) over 4, not over the 2 that answered.
  CHECK(dp_fedavg_step(current, mean, 2, 4, 0.0, 1.0, key) == std::vector<float>{1.5f, -1.0f});
}

TEST_CASE("DP-FedAvg's noise is N(0, (z C)^2) on the sum, seeded per round and aggregation point") {
  const std::size_t n = 200000;
  std::vector<float> zero(n, 0.0f);
  const double z = 1.5, clip = 0.4;
  const std::size_t asked = 10;
  auto a = dp_fedavg_step(zero, zero, asked, asked, z, clip, fl::privacy::central_key(7, 0, 3));
  CHECK(a == dp_fedavg_step(zero, zero, asked, asked, z, clip, fl::privacy::central_key(7, 0, 3)));
  CHECK(a != dp_fedavg_step(zero, zero, asked, asked, z, clip, fl::privacy::central_key(7, 0, 4)));
  CHECK(a != dp_fedavg_step(zero, zero, asked, asked, z, clip, fl::privacy::central_key(7, 1, 3)));
  double sum = 0, squares = 0;
  for (auto v : a) {
    sum += v;
    squares += static_cast<double>(v) * v;
  }
  const double mean = sum / n, sd = std::sqrt(squares / n - mean * mean);
  // The sum's noise z C, over the fixed denominator.
  CHECK(std::abs(mean) < 0.01 * z * clip / asked);
  CHECK(sd == doctest::Approx(z * clip / asked).epsilon(0.01));
}

TEST_CASE("a client's update leaves it clipped to the bound; a small one is unchanged") {
  std::vector<float> start{1.0f, 1.0f};
  auto big = fl::privacy::clipped_update(start, {4.0f, 5.0f}, 1.0); // update (3, 4): norm 5
  CHECK(std::hypot(big[0] - 1.0, big[1] - 1.0) <= 1.0 + 1e-6);
  CHECK(big[0] - 1.0f == doctest::Approx(0.6).epsilon(1e-5));
  CHECK(big[1] - 1.0f == doctest::Approx(0.8).epsilon(1e-5));
  CHECK(fl::privacy::clipped_update(start, {1.3f, 1.4f}, 1.0) == std::vector<float>{1.3f, 1.4f});
}

TEST_CASE("DP-FedAvg's step refuses what it cannot compute") {
  auto key = fl::privacy::central_key(1, 0, 1);
  CHECK_THROWS_WITH_AS(dp_fedavg_step({1.0f}, {1.0f, 2.0f}, 1, 1, 1.0, 1.0, key),
                       "dp_fedavg_step: the mean has 2 weights, the model 1", std::invalid_argument);
  CHECK_THROWS_WITH_AS(dp_fedavg_step({1.0f}, {1.0f}, 3, 2, 1.0, 1.0, key),
                       "dp_fedavg_step: 3 updates accepted of 2 asked", std::invalid_argument);
  CHECK_THROWS_AS(dp_fedavg_step({1.0f}, {1.0f}, 1, 1, -1.0, 1.0, key), std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::privacy::clipped_update({1.0f}, {1.0f, 2.0f}, 1.0),
                       "clipped_update: 2 trained weights, 1 in the model", std::invalid_argument);
}
