#pragma once
// The aggregation policy, in the spirit of Flower's Strategy: who trains each round and with
// what (configure_fit), and how a round's updates and failures become the next model
// (aggregate_fit). CAF-free and thread-free: the round engine (actors/round_engine) does the
// sending, deadlines and quorum; a strategy only decides, so it is tested on plain vectors.
// One object per aggregation point (the coordinator has one, each cluster server its own);
// its state (server momentum, optimizer moments) lives in it and can be saved and restored.
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fl/round_updates.hpp"
#include "fl/strategy_options.hpp"

namespace flotilla::fl {

/// What a client needs to train one round, like Flower's FitIns config: the round, and named
/// values the client reads with its own configuration as the fallback (model/train_options.hpp:
/// with_fit_values): "epochs", "lr", and the strategy's client-side knobs ("proximal_mu"). An
/// absent key means "the client's configured value".
struct fit_config {
  std::uint32_t round = 0;
  std::map<std::string, double> values;

  fit_config() = default;
  explicit fit_config(std::uint32_t round_, std::map<std::string, double> values_ = {})
      : round(round_), values(std::move(values_)) {}
  /// The former positional form {round, epochs, lr, proximal_mu}: each value that is not 0
  /// under its key (0 meant "the client's configured value", as an absent key does now).
  fit_config(std::uint32_t round_, std::uint32_t epochs, double lr, double proximal_mu);

  /// The value of `key`, or `fallback` when the strategy did not send it.
  double value(const std::string& key, double fallback) const {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
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

/// A strategy cannot be built or restored (unknown name, a knob missing or out of range,
/// state of another strategy).
class strategy_error : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

/// One knob a strategy reads, declared once by the strategy (its static knobs()): the config
/// key under `strategy.`, its default (config/default.json holds the same), the range the
/// configuration and make_strategy accept, and what it means. A knob declared by several
/// strategies (server_lr) has one range and default everywhere.
struct knob_spec {
  std::string key;
  double default_value = 0;
  double min = 0, max = 0;
  bool integer = false; ///< whole numbers only (a count)
  bool client = false;  ///< sent to every participant in fit_config values; aggregation does not read it
  std::string meaning;  ///< one line, for documentation and errors
};

/// The knobs strategy `name` reads, in its declared order. Throws strategy_error for an
/// unknown name.
const std::vector<knob_spec>& knobs_of(const std::string& name);

/// Every knob any strategy declares, once per key (first declaration order): the numeric keys
/// of the config `strategy` subtree.
const std::vector<knob_spec>& all_knobs();

/// The declaration of knob `key`, or nullptr when no strategy declares it.
const knob_spec* find_knob(const std::string& key);

/// Why `value` is not acceptable for knob `spec` ("is out of range; allowed: 0 to 0.49", "is
/// not a whole number"), or empty.
std::string knob_problem(const knob_spec& spec, double value);

/// Options of strategy `name` with every knob of every strategy at its declared default (the
/// subtree config/default.json gives).
strategy_options default_options(const std::string& name);

class strategy {
public:
  /// Checks the options against the strategy's declared knobs (knobs_of): each present, in
  /// range and whole where it counts; any other key must be some strategy's knob. Throws
  /// strategy_error naming the strategy and the key.
  explicit strategy(strategy_options options);
  virtual ~strategy() = default;
  strategy(const strategy&) = delete;
  strategy& operator=(const strategy&) = delete;

  /// The options it was made from; a knob left at 0 to mean "the strategy's own default"
  /// (server_lr) holds the value in use.
  const strategy_options& options() const { return options_; }

  /// The knobs this strategy reads: none (fedavg, median). Strategies that read knobs declare
  /// theirs under the same name; make_strategy's table (strategy.cpp) lists each strategy's.
  static const std::vector<knob_spec>& knobs() {
    static const std::vector<knob_spec> none;
    return none;
  }

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

  /// The names of the buffers a stateful strategy keeps, in state() order (none: stateless).
  /// A saved state holds all of them (after the first aggregated round) or none (before).
  virtual std::vector<std::string> state_buffers() const { return {}; }

protected:
  /// Takes a state restore() has checked.
  virtual void restore_checked(const strategy_state&) {}
  /// The fit configuration every participant of `round` gets: the round and the strategy's
  /// client-side knobs (knob_spec::client) under their keys.
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
