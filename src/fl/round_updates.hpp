#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fl/aggregate.hpp"

namespace flotilla::fl {

/// One client's answer in a round, as aggregation sees it. The weights are shared, never
/// copied (in one process, every holder of an update points at the same buffer).
struct client_update {
  std::uint32_t client = 0;
  std::uint64_t samples = 0; ///< training samples: the FedAvg weight
  double train_loss = 0;
  std::shared_ptr<const std::vector<float>> weights;
};

/// A request that produced no usable update, and why (Flower's failures list).
struct client_failure {
  std::uint32_t client = 0;
  std::string reason;
};

/// One round's accepted updates, gathered as they arrive. Each is validated first (size,
/// NaN/inf, diverged weights) and folded into an exact FedAvg accumulator, so the mean is
/// bit-identical whatever the arrival order. A streaming collection keeps only (id, samples,
/// loss) besides the sums: one model's worth of memory however many clients answer. A keeping
/// collection also holds every update, ordered by client id, for strategies that need them
/// all (median, trimmed mean, Krum, CFL's split).
///
/// A streaming collection also takes an update chunk by chunk, so that an aggregation point
/// never holds a whole update (its memory stays near twice the model's bytes however many
/// clients answer): begin(), then fold() each chunk (any order, interleaved with other
/// clients' chunks), then commit(). An update that breaks off is taken out again exactly:
/// withdraw() each folded chunk (the caller fetches its values again), then abandon(). When
/// that is impossible (the sender vanished), poison() the collection: it then refuses to
/// average. Only committed updates count (count, samples, loss, clients).
/// The most training samples one update may claim (2^53: exact in a double; far beyond any
/// data set, and keeps the sums' words from wrapping whatever a peer claims).
constexpr std::uint64_t max_samples = std::uint64_t{1} << 53;

class round_updates {
public:
  round_updates(std::size_t model_size, bool keep);

  /// Validates and folds in one update; returns why it was refused, or empty when accepted.
  std::string accept(const client_update& update);

  /// Secure aggregation's result (privacy.secure_aggregation): `masked_sum` is the sum over
  /// `members` of fixed_terms(samples, w) - fixed_terms(samples, base), each member's update
  /// relative to the round's model `base`, unmasked; the members carry samples and loss, no
  /// weights. Adds fixed_terms(samples, base) back for each, so the sums are exactly those
  /// accept() would have made of the same updates in the clear. Streaming collections only
  /// (a keeping one needs the updates themselves). Returns why it is refused (nothing changes
  /// then), or empty: sizes, a second update, a non-finite loss, too many samples.
  std::string accept_sum(const std::vector<std::int64_t>& masked_sum, const std::vector<client_update>& members,
                         const std::vector<float>& base);

  /// Starts a chunked update; returns why it is refused, or empty: a second update from the
  /// client (accepted or in progress), a non-finite loss, or a keeping collection (those hold
  /// whole updates: the caller must fetch the whole update and call accept()).
  std::string begin(std::uint32_t client, std::uint64_t samples, double train_loss);
  /// Folds weights [offset, offset + n) of the client's update in progress; returns why it
  /// was refused (nothing changes then), or empty: no update in progress, a chunk beyond the
  /// model or overlapping one already folded, or check_update's reasons (NaN, inf, diverged,
  /// naming the absolute index).
  std::string fold(std::uint32_t client, std::size_t offset, const float* w, std::size_t n);
  /// Takes one folded chunk out again exactly: offset and n as it was folded, w its values
  /// fetched again. Throws std::logic_error when no such chunk is folded, std::invalid_argument
  /// when the values differ from those folded (a digest of them is kept); nothing changes
  /// then, and the caller's recourse is poison().
  void withdraw(std::uint32_t client, std::size_t offset, const float* w, std::size_t n);
  /// Forgets the client's update in progress, once nothing of it remains folded. Throws
  /// std::logic_error when there is none or chunks of it are still folded.
  void abandon(std::uint32_t client);
  /// Completes the client's update: its folded chunks must cover [0, model_size()) exactly.
  /// Returns why not (the update stays in progress then), or empty: it then counts like an
  /// accepted one.
  std::string commit(std::uint32_t client);
  /// Clients with an update in progress (begun, neither committed nor abandoned), ascending.
  std::vector<std::uint32_t> in_progress() const;

  /// Marks the sums as wrong for good (an update could not be withdrawn: its sender vanished
  /// mid-transfer): mean() and take_mean() then throw std::runtime_error with the reason. The
  /// first reason stays.
  void poison(std::string reason);
  /// Why the sums are poisoned, or empty when they are fine.
  const std::string& poisoned() const { return poisoned_; }

  std::size_t model_size() const { return model_size_; }
  std::size_t count() const { return losses_.size(); }
  std::uint64_t samples() const { return samples_; }
  /// Sample-weighted mean training loss, summed in client-id order.
  double train_loss() const;
  /// The exact sample-weighted mean (FedAvg). Throws std::invalid_argument when empty,
  /// std::runtime_error when poisoned, std::logic_error while an update in progress has chunks
  /// folded (withdraw them, or commit it, first).
  std::vector<float> mean() const;
  /// The same floats as mean(), freeing the sums as it converts them (peak near 2x the
  /// model's bytes instead of 3x). Same exceptions. Afterwards the collection takes nothing
  /// more (accept() and begin() refuse) and cannot average again (mean() and take_mean()
  /// throw std::logic_error); its counts, loss, clients and kept updates stay.
  std::vector<float> take_mean();
  /// Once every update is in: converts the sums into the mean, freeing them as it goes (as
  /// take_mean), and keeps it; mean() then returns a copy of it, so an aggregation point's
  /// peak stays near 2x the model. Same exceptions as take_mean; afterwards nothing more can be
  /// added. The round engine calls it before the strategy aggregates a streaming round.
  void finalize();
  /// Every accepted update by client id (empty for a streaming collection).
  const std::map<std::uint32_t, client_update>& kept() const { return kept_; }
  bool keeps() const { return keep_; }
  /// Ids of the accepted updates, ascending.
  std::vector<std::uint32_t> clients() const;

private:
  struct chunk {
    std::size_t n = 0;
    std::string digest; ///< SHA-256 of the folded values
  };
  struct partial {
    std::uint64_t samples = 0;
    double train_loss = 0;
    std::map<std::size_t, chunk> chunks; ///< folded chunks by offset
    std::size_t folded = 0;              ///< weights they cover
  };
  void check_averageable() const;

  fedavg_accumulator acc_;
  std::size_t model_size_;
  bool keep_;
  bool taken_ = false; ///< take_mean() or finalize() emptied acc_
  std::optional<std::vector<float>> final_; ///< the mean, after finalize()
  std::uint64_t samples_ = 0;
  std::map<std::uint32_t, std::pair<std::uint64_t, double>> losses_;
  std::map<std::uint32_t, client_update> kept_;
  std::map<std::uint32_t, partial> partial_;
  std::string poisoned_;
};

} // namespace flotilla::fl
