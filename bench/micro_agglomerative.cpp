// Agglomerative clustering (k = 4) of N clients x P dimensions, both linkages: the distance
// matrix dominates for model-sized P, the merge loop for many clients.
#include <benchmark/benchmark.h>

#include <random>

#include "fl/agglomerative.hpp"

namespace {

void agglomerative(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0)), p = static_cast<std::size_t>(state.range(1));
  auto l = state.range(2) == 0 ? flotilla::fl::linkage::ward : flotilla::fl::linkage::average_cosine;
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0, 1);
  std::vector<std::vector<float>> data(n, std::vector<float>(p));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t d = 0; d < p; ++d)
      data[i][d] = noise(rng) + (d % 4 == i % 4 ? 4.0f : 0.0f); // four groups
  std::vector<const float*> points;
  for (const auto& v : data)
    points.push_back(v.data());
  for (auto _ : state) {
    auto labels = flotilla::fl::agglomerative(points, p, 4, l);
    benchmark::DoNotOptimize(labels.data());
  }
  state.SetLabel(state.range(2) == 0 ? "ward" : "average_cosine");
}

} // namespace

// 20 clients with a 1.66 M-parameter model's updates; 1,000 and 2,000 clients with 64-value sketches.
BENCHMARK(agglomerative)
  ->ArgsProduct({{20}, {1663370}, {0, 1}})
  ->ArgsProduct({{1000, 2000}, {64}, {0, 1}})
  ->Unit(benchmark::kMillisecond)
  ->Iterations(3);
