#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace flotilla::fl {

/// One client's contribution to an aggregate: a view of its weights and its sample count.
struct weighted_update {
  std::uint32_t client_id = 0;
  std::uint64_t samples = 0;
  const std::vector<float>* weights = nullptr;
};

/// Why an update cannot be aggregated, or empty when it can: wrong size, NaN, infinity, or a
/// weight beyond +-1e6 (a diverged model, and beyond what exact summation covers).
std::string check_update(const std::vector<float>& weights, std::size_t expected_size);

/// Streaming FedAvg (McMahan et al. 2017): the sample-weighted mean, one update at a time, so
/// an aggregator never holds more than one update besides its sums. Sums are exact
/// fixed-point integers (128-bit, 2^-40 resolution), so the result is bit-identical whatever
/// order updates arrive in: determinism without waiting for everyone to sort.
class fedavg_accumulator {
public:
  explicit fedavg_accumulator(std::size_t size);

  /// Adds samples * weights. Throws std::invalid_argument on a size mismatch or a weight
  /// too large to sum exactly (|w| > 1e6; check_update rejects those first).
  void add(std::uint64_t samples, const std::vector<float>& weights);

  std::size_t size() const { return sums_.size(); }
  std::size_t count() const { return count_; }
  std::uint64_t samples() const { return samples_; }

  /// The weighted mean. Throws std::invalid_argument when nothing was added.
  std::vector<float> mean() const;

private:
  std::vector<__int128> sums_;
  std::uint64_t samples_ = 0;
  std::size_t count_ = 0;
};

/// The sample-weighted mean of a list of updates (FedAvg) (through fedavg_accumulator: any order, same bits). Throws
/// std::invalid_argument on an empty list, mismatched sizes or zero total samples.
std::vector<float> weighted_mean(const std::vector<weighted_update>& updates);

} // namespace flotilla::fl
