// Training throughput of each model on one thread, batch 32: the compute floor per core; and
// evaluation throughput by batch size, which chose model::evaluation_batch.
#include <benchmark/benchmark.h>

#include <numeric>
#include <random>

#include "data/dataset.hpp"
#include "model/trainer.hpp"

namespace {

// Random images of the model's input shape: throughput does not depend on pixel values.
flotilla::data::split synthetic(std::size_t n, std::size_t c, std::size_t h, std::size_t w) {
  flotilla::data::split s;
  s.count = n;
  s.channels = c;
  s.height = h;
  s.width = w;
  std::mt19937 rng(5);
  std::normal_distribution<float> px(0, 1);
  s.pixels.resize(n * c * h * w);
  for (auto& x : s.pixels)
    x = px(rng);
  for (std::size_t i = 0; i < n; ++i)
    s.labels.push_back(static_cast<std::int64_t>(i % 10));
  s.background.assign(c, 0.0f);
  return s;
}

void train_samples_per_second(benchmark::State& state, const char* name) {
  flotilla::model::configure_torch_threads(1);
  flotilla::model::trainer t(name);
  const auto& spec = t.spec();
  auto data = synthetic(1024, spec.channels, spec.height, spec.width);
  std::vector<std::uint32_t> idx(data.count);
  std::iota(idx.begin(), idx.end(), 0u);
  auto w = flotilla::model::initial_weights(name, 1);
  flotilla::model::train_options opt;
  opt.lr = 0.01;
  for (auto _ : state) {
    auto out = t.fit(w, data, idx, {}, {}, opt, 1);
    benchmark::DoNotOptimize(out.weights.data());
  }
  state.counters["samples_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * data.count), benchmark::Counter::kIsRate);
}

// Evaluation throughput by batch size: model::evaluation_batch is the fastest of these here.
void evaluate_images_per_second(benchmark::State& state, const char* name) {
  flotilla::model::configure_torch_threads(1);
  flotilla::model::trainer t(name);
  const auto& spec = t.spec();
  auto data = synthetic(2000, spec.channels, spec.height, spec.width);
  auto w = flotilla::model::initial_weights(name, 1);
  auto batch = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto m = t.evaluate(w, data, {}, {}, {}, batch);
    benchmark::DoNotOptimize(m.loss);
  }
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * data.count), benchmark::Counter::kIsRate);
}

} // namespace

BENCHMARK_CAPTURE(evaluate_images_per_second, cnn, "cnn")
    ->Arg(32)->Arg(64)->Arg(128)->Arg(256)->Arg(500)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK_CAPTURE(train_samples_per_second, cnn, "cnn")->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(train_samples_per_second, mcmahan_cnn, "mcmahan_cnn")->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(train_samples_per_second, cifar_cnn, "cifar_cnn")->Unit(benchmark::kMillisecond)->MinTime(2.0);
