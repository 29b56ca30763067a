#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fl/aggregate.hpp"

namespace flotilla::fl {

/// One round's aggregation as results stream in: validates each update, folds it into a
/// FedAvg accumulator and keeps only (id, samples, loss) per client, so the aggregator holds
/// one model's worth of sums however many clients answer. Order-independent throughout.
class round_aggregate {
public:
  explicit round_aggregate(std::size_t model_size) : acc_(model_size) {}

  /// Folds in one update; returns why it was refused, or empty when accepted.
  std::string accept(std::uint32_t id, std::uint64_t samples, double loss, const std::vector<float>& weights);

  std::size_t count() const { return acc_.count(); }
  std::uint64_t samples() const { return acc_.samples(); }
  /// Sample-weighted mean training loss, summed in id order.
  double train_loss() const;
  std::vector<float> mean() const { return acc_.mean(); }

private:
  fedavg_accumulator acc_;
  std::vector<std::pair<std::uint32_t, std::pair<std::uint64_t, double>>> losses_;
};

/// Which of `n` participants take part in a round: all when fraction >= 1, else a seeded
/// sample of ceil(fraction * n) (at least one), in ascending order.
std::vector<std::size_t> sample_participants(std::size_t n, double fraction, std::uint64_t seed);

} // namespace flotilla::fl
