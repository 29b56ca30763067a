// FedAvg of N updates of P floats, beside a plain memcpy of the same bytes.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>

#include "fl/aggregate.hpp"

namespace {

std::vector<std::vector<float>> updates(std::size_t n, std::size_t p) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<std::vector<float>> out(n, std::vector<float>(p));
  for (auto& v : out)
    for (auto& x : v)
      x = u(rng);
  return out;
}

void fedavg(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0)), p = static_cast<std::size_t>(state.range(1));
  auto ups = updates(n, p);
  for (auto _ : state) {
    flotilla::fl::fedavg_accumulator acc(p);
    for (std::size_t i = 0; i < n; ++i)
      acc.add(100 + i, ups[i]);
    auto mean = acc.mean();
    benchmark::DoNotOptimize(mean.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * p * sizeof(float)));
}

void memcpy_same_bytes(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0)), p = static_cast<std::size_t>(state.range(1));
  auto ups = updates(n, p);
  std::vector<float> dst(p);
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i)
      std::memcpy(dst.data(), ups[i].data(), p * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * p * sizeof(float)));
}

} // namespace

BENCHMARK(fedavg)->ArgsProduct({{10, 100}, {80202, 1663370}})->Unit(benchmark::kMillisecond);
BENCHMARK(memcpy_same_bytes)->ArgsProduct({{10, 100}, {80202, 1663370}})->Unit(benchmark::kMillisecond);
