// K-means (k = 4, one k-means++ start) on N clients x P dimensions.
#include <benchmark/benchmark.h>

#include <random>

#include "fl/kmeans.hpp"

namespace {

void kmeans(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0)), p = static_cast<std::size_t>(state.range(1));
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
    auto r = flotilla::fl::kmeans(points, p, {4, 1, 100, 7});
    benchmark::DoNotOptimize(r.inertia);
  }
  state.counters["points"] = static_cast<double>(n);
}

} // namespace

// Full cnn weights (80,202) and a 64-dimensional sketch, for 10, 100 and 1,000 clients.
BENCHMARK(kmeans)->ArgsProduct({{10, 100, 1000}, {64, 80202}})->Unit(benchmark::kMillisecond)->Iterations(3);
