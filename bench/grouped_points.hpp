// The clustering benchmarks' input: n points of p dimensions in four groups (point i is 4 units
// out along every dimension d with d % 4 == i % 4), unit Gaussian noise, a fixed seed.
#pragma once

#include <cstddef>
#include <random>
#include <vector>

namespace flotilla::bench {

struct grouped_points {
  std::vector<std::vector<float>> data;
  std::vector<const float*> points; // into data, as the clustering functions take them

  grouped_points(std::size_t n, std::size_t p) : data(n, std::vector<float>(p)) {
    std::mt19937 rng(3);
    std::normal_distribution<float> noise(0, 1);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t d = 0; d < p; ++d)
        data[i][d] = noise(rng) + (d % 4 == i % 4 ? 4.0f : 0.0f);
    for (const auto& v : data)
      points.push_back(v.data());
  }
};

} // namespace flotilla::bench
