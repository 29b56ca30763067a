#pragma once
#include <cstdint>
#include <map>
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
class round_updates {
public:
  round_updates(std::size_t model_size, bool keep);

  /// Validates and folds in one update; returns why it was refused, or empty when accepted.
  std::string accept(const client_update& update);

  std::size_t model_size() const { return acc_.size(); }
  std::size_t count() const { return acc_.count(); }
  std::uint64_t samples() const { return acc_.samples(); }
  /// Sample-weighted mean training loss, summed in client-id order.
  double train_loss() const;
  /// The exact sample-weighted mean (FedAvg). Throws std::invalid_argument when empty.
  std::vector<float> mean() const { return acc_.mean(); }
  /// Every accepted update by client id (empty for a streaming collection).
  const std::map<std::uint32_t, client_update>& kept() const { return kept_; }
  bool keeps() const { return keep_; }
  /// Ids of the accepted updates, ascending.
  std::vector<std::uint32_t> clients() const;

private:
  fedavg_accumulator acc_;
  bool keep_;
  std::map<std::uint32_t, std::pair<std::uint64_t, double>> losses_;
  std::map<std::uint32_t, client_update> kept_;
};

} // namespace flotilla::fl
