#pragma once
#include <cstddef>
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

/// check_update's value checks on a slice of an update: `n` weights that sit at `offset` in
/// it (the reasons name absolute indices, offset + i, in check_update's words).
std::string check_weights(const float* weights, std::size_t n, std::size_t offset);

/// Streaming FedAvg (McMahan et al. 2017): the sample-weighted mean, one update (or one slice
/// of one) at a time, so an aggregator never holds more than its sums besides what it is
/// folding in. Sums are exact fixed-point integers (2^-30 resolution): each term
/// samples * w * 2^30, rounded half away from zero, is a well-defined integer, so the result
/// is bit-identical whatever order updates, or slices of them, arrive in.
///
/// Memory: the sums are 64-bit (8 bytes a weight, twice the model), kept in blocks of 16384
/// weights with a running bound on each block's largest |sum|. While the bound proves that no
/// element can leave int64 the add is a plain branch-free loop; a block whose sums may
/// overflow (huge sample counts times weights near 1e6) gets a second, high 64-bit word for
/// each of its weights, so the sums are 128-bit there and still exact. Pathological inputs
/// thus cost at most 16 bytes a weight (the former, all-128-bit cost), plus 32 bytes of
/// bookkeeping per block. The sums equal a plain 128-bit accumulation exactly, and so does
/// the mean, bit for bit.
class fedavg_accumulator {
public:
  explicit fedavg_accumulator(std::size_t size);

  /// Adds samples * weights and counts one update (add_range over everything, then
  /// count_update). Throws std::invalid_argument on a size mismatch or a weight too large to
  /// sum exactly (|w| > 1e6; check_update rejects those first), changing nothing.
  void add(std::uint64_t samples, const std::vector<float>& weights);

  /// Adds samples * w[i] to the sums of weights offset .. offset + n - 1 (one slice of an
  /// update; slices arrive in any order, interleaved with other updates'). Does not count an
  /// update: call count_update once all of it is in. Throws std::invalid_argument, changing
  /// nothing, when the slice lies beyond size() or holds a weight that is not finite or beyond
  /// +-1e6 (the message names its absolute index).
  void add_range(std::uint64_t samples, std::size_t offset, const float* w, std::size_t n);
  /// Exactly undoes add_range(samples, offset, w, n) (same arguments, same values). Same checks.
  void subtract_range(std::uint64_t samples, std::size_t offset, const float* w, std::size_t n);
  /// Counts one update of `samples` samples: what add() does to count() and samples().
  void count_update(std::uint64_t samples);
  /// Adds integer sums made elsewhere on the same grid (fixed_terms: a secure aggregation's
  /// unmasked sum), exactly, widening a block where needed. Counts no update. Throws
  /// std::invalid_argument on a size mismatch, changing nothing.
  void add_sums(const std::vector<std::int64_t>& sums);

  std::size_t size() const { return lo_.size(); }
  std::size_t count() const { return count_; }
  std::uint64_t samples() const { return samples_; }
  /// Weights whose sums have needed a high word (0 unless inputs were pathological).
  std::size_t wide_weights() const;
  /// Bytes the sums occupy now: 8 per weight, 16 per wide weight, plus the bookkeeping.
  std::size_t sum_bytes() const;

  /// The weighted mean. Throws std::invalid_argument when nothing was added.
  std::vector<float> mean() const;
  /// The same floats as mean(), but frees the sums while it converts them (16 MiB at a time),
  /// so finishing a round peaks near 2x the model's bytes rather than 3x. Afterwards the
  /// accumulator is empty and unusable: size(), count() and samples() are 0, mean() throws,
  /// add() refuses every non-empty update. Throws like mean() (changing nothing) when nothing
  /// was added.
  std::vector<float> take_mean() &&;

private:
  template <bool Subtract>
  void apply(std::uint64_t samples, std::size_t offset, const float* w, std::size_t n);
  void check_values(std::size_t offset, const float* w, std::size_t n) const;
  void rescan(std::size_t block);
  void widen(std::size_t block);
  void convert_block(std::size_t block, double denom, float* out) const;
  void check_can_average() const;

  std::vector<std::int64_t> lo_;               ///< each sum (its low 64 bits in a wide block)
  std::vector<std::vector<std::int64_t>> hi_;  ///< per block: the sums' high words, or empty
  std::vector<double> bound_;                  ///< per narrow block: >= every |sum| in it
  std::uint64_t samples_ = 0;
  std::size_t count_ = 0;
};

/// The fixed-point grid of FedAvg's exact sums: a value v is the integer v * 2^30. The mean is
/// then within 2^-31 (5e-10) of the exact one, below float32's own rounding for weights above
/// 2^-7 and far below anything training notices; a finer grid would cost secure aggregation
/// (which masks these integers) a bit per member and weight for every step (2^40 gave 1.6-1.7x
/// a float32 update's bytes with sample weights, 2^30 about 1.4x).
constexpr double fixed_scale = 1073741824.0; // 2^30

/// The integers fedavg_accumulator sums for samples * w[i] (samples * w[i] * 2^30, rounded half
/// away from zero), so a sum made elsewhere (secure aggregation masks these) lands on the same
/// grid bit for bit. Returns the index of the first weight whose term reaches 2^62 in magnitude
/// (|samples * w| >= 2^32, or not finite), or n when all fit; `out` is then complete.
std::size_t fixed_terms(std::uint64_t samples, const float* w, std::size_t n, std::int64_t* out);

/// The sample-weighted mean of a list of updates (FedAvg) (through fedavg_accumulator: any order, same bits). Throws
/// std::invalid_argument on an empty list, mismatched sizes or zero total samples.
std::vector<float> weighted_mean(const std::vector<weighted_update>& updates);

} // namespace flotilla::fl
