// K-means (k = 4, one k-means++ start) on N clients x P dimensions.
#include <benchmark/benchmark.h>

#include "fl/kmeans.hpp"
#include "grouped_points.hpp"

namespace {

void kmeans(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0)), p = static_cast<std::size_t>(state.range(1));
  flotilla::bench::grouped_points in(n, p);
  const auto& points = in.points;
  for (auto _ : state) {
    auto r = flotilla::fl::kmeans(points, p, {4, 1, 100, 7});
    benchmark::DoNotOptimize(r.inertia);
  }
  state.counters["points"] = static_cast<double>(n);
}

} // namespace

// Full cnn weights (80,202) and a 64-dimensional sketch, for 10, 100 and 1,000 clients.
BENCHMARK(kmeans)->ArgsProduct({{10, 100, 1000}, {64, 80202}})->Unit(benchmark::kMillisecond)->Iterations(3);
