#include "compute_floor.hpp"

#include <chrono>
#include <thread>
#include <vector>

#include "model/trainer.hpp"

namespace flotilla::bench {

namespace {

// Runs job(t, trainer) on `threads` threads with one trainer each; returns the wall seconds.
template <class Job>
double on_trainers(const std::string& model, unsigned threads, Job job) {
  std::vector<model::trainer> trainers;
  for (unsigned t = 0; t < threads; ++t)
    trainers.emplace_back(model);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { job(t, trainers[t]); });
  for (auto& th : pool)
    th.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

double compute_floor_seconds(const data::dataset& data, const std::string& model, std::uint64_t sample_passes,
                             const model::train_options& options, unsigned threads) {
  // Each thread trains its share as one epoch over that many samples (cycling the set).
  std::vector<std::vector<std::uint32_t>> shares(threads);
  for (std::uint64_t i = 0; i < sample_passes; ++i)
    shares[i % threads].push_back(static_cast<std::uint32_t>(i % data.train.count));
  auto opt = options;
  opt.epochs = 1;
  auto w = model::initial_weights(model, 1);
  return on_trainers(model, threads, [&](unsigned t, model::trainer& tr) { tr.fit(w, data.train, shares[t], {}, {}, opt, t); });
}

double evaluation_floor_seconds(const data::dataset& data, const std::string& model, std::uint64_t images,
                                unsigned threads) {
  std::vector<std::vector<std::uint32_t>> shares(threads);
  for (std::uint64_t i = 0; i < images; ++i)
    shares[i % threads].push_back(static_cast<std::uint32_t>(i % data.test.count));
  auto w = model::initial_weights(model, 1);
  return on_trainers(model, threads, [&](unsigned t, model::trainer& tr) { tr.evaluate(w, data.test, shares[t], {}, {}); });
}

} // namespace flotilla::bench
