#pragma once
// The aggregation policy, in the spirit of Flower's Strategy: who trains each round and with
// what (configure_fit), and how a round's updates and failures become the next model
// (aggregate_fit). CAF-free and thread-free: the round engine (actors/round_engine) does the
// sending, deadlines and quorum; a strategy only decides, so it is tested on plain vectors.
// One object per aggregation point (the coordinator has one, each cluster server its own);
// its state (server momentum, optimizer moments) lives in it and can be saved and restored.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fl/round_updates.hpp"
#include "fl/strategy_options.hpp"

namespace flotilla::fl {

/// What a client needs to train one round (Flower's FitIns config). Zero means "the client's
/// configured value" for epochs and lr.
struct fit_config {
  std::uint32_t round = 0;
  std::uint32_t epochs = 0;
  double lr = 0;
  double proximal_mu = 0; ///< FedProx: weight of mu/2 * ||w - w_global||^2 in the local loss
};

/// The round's participants (client ids, ascending) and their fit configuration.
struct fit_plan {
  std::vector<std::uint32_t> participants;
  fit_config config;
};

/// A strategy's own state between rounds, for checkpoints and for handing a cluster to a new
/// server: named by the strategy, its step count, its buffers in the strategy's order.
struct strategy_state {
  std::string strategy;
  std::uint64_t steps = 0;
  std::vector<std::vector<float>> buffers;
};

/// A strategy cannot be built or restored (unknown name, state of another strategy).
class strategy_error : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

class strategy {
public:
  explicit strategy(strategy_options options) : options_(std::move(options)) {}
  virtual ~strategy() = default;
  strategy(const strategy&) = delete;
  strategy& operator=(const strategy&) = delete;

  const strategy_options& options() const { return options_; }

  /// Who trains in `round` and with what: a seeded sample of ceil(fraction * available) of
  /// `available` (all when fraction >= 1), ascending.
  fit_plan configure_fit(std::uint32_t round, const std::vector<std::uint32_t>& available, double fraction,
                         std::uint64_t seed) const;

  /// Whether aggregation needs every update rather than their streamed mean.
  virtual bool keeps_updates() const { return false; }

  /// Why this round's updates cannot be aggregated (e.g. Krum with too few), or empty.
  virtual std::string cannot_aggregate(const round_updates& updates) const;

  /// Why a round that asks `participants` clients cannot aggregate even when every one of them
  /// answers (e.g. Krum with fewer than 2f + 3), or empty. Such a round would only keep its
  /// model, and so would every later round of the same size: the configuration (initial
  /// rounds) or the round engine (cluster rounds) refuses it instead.
  virtual std::string cannot_ever_aggregate(std::size_t participants) const;

  /// The next model from `current` and the round's accepted updates (at least one; check
  /// cannot_aggregate first). Called once per aggregated round, in round order: stateful
  /// strategies update their state here, in a fixed order, so results are deterministic.
  std::vector<float> aggregate_fit(std::uint32_t round, const std::vector<float>& current,
                                   const round_updates& updates, const std::vector<client_failure>& failures);

  /// The state to save or hand over (empty buffers for stateless strategies).
  virtual strategy_state state() const;
  /// Continues from a saved state for a model of `model_size` weights; throws strategy_error
  /// when it belongs to another strategy, has other buffers than this strategy keeps, or a
  /// buffer that does not fit the model (size, or a value that is not finite). Checked here,
  /// once, so a damaged state is refused before it is used rather than at every round.
  void restore(const strategy_state& state, std::size_t model_size);
  /// restore() for callers that do not know the model: the buffers must agree with each
  /// other; their size against the model is checked at aggregation. Prefer the form above.
  void restore(const strategy_state& state);

protected:
  /// The names of the buffers a stateful strategy keeps, in state() order (none: stateless).
  /// A saved state holds all of them (after the first aggregated round) or none (before).
  virtual std::vector<std::string> state_buffers() const { return {}; }
  /// Takes a state restore() has checked.
  virtual void restore_checked(const strategy_state&) {}
  /// The fit configuration every participant of `round` gets.
  virtual fit_config fit_config_for(std::uint32_t round) const;
  /// The aggregation itself (the public aggregate_fit checks its inputs first).
  virtual std::vector<float> aggregate(std::uint32_t round, const std::vector<float>& current,
                                       const round_updates& updates) = 0;

  strategy_options options_;
};

/// Builds the strategy `options.name` names. Throws strategy_error for an unknown name.
std::unique_ptr<strategy> make_strategy(const strategy_options& options);

/// The strategy names make_strategy accepts.
const std::vector<std::string>& strategy_names();

/// Which of `n` items take part: all when fraction >= 1, else a seeded sample of
/// ceil(fraction * n) (at least one), ascending.
std::vector<std::size_t> sample_participants(std::size_t n, double fraction, std::uint64_t seed);

/// How many of `n` items sample_participants picks (whatever the seed).
std::size_t participants_of(std::size_t n, double fraction);

} // namespace flotilla::fl
