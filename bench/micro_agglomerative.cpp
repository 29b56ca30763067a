// Agglomerative clustering (k = 4) of N clients x P dimensions, both linkages: the distance
// matrix dominates for model-sized P, the merge loop for many clients.
#include <benchmark/benchmark.h>

#include "fl/agglomerative.hpp"
#include "grouped_points.hpp"

namespace {

void agglomerative(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0)), p = static_cast<std::size_t>(state.range(1));
  auto l = state.range(2) == 0 ? flotilla::fl::linkage::ward : flotilla::fl::linkage::average_cosine;
  flotilla::bench::grouped_points in(n, p);
  const auto& points = in.points;
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
