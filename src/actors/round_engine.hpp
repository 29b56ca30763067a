#pragma once
// One federated round, the same code at every aggregation point (the coordinator's initial
// rounds and every promoted cluster server's rounds): the strategy picks participants and the
// fit configuration, the engine sends the model, collects updates and failures with deadlines,
// checks the quorum, aggregates through the strategy and evaluates the new model.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fl/device_time.hpp"
#include "actors/fan_out.hpp"
#include "actors/dp_round.hpp"
#include "actors/protocol.hpp"
#include "actors/secure_round.hpp"
#include "fl/round_updates.hpp"
#include "fl/strategy.hpp"

namespace flotilla::actors {

/// What a round needs besides the strategy.
/// clock=virtual: where the round stands on the simulated clock (fl/device_time.hpp).
struct virtual_round {
  double start = 0;                              ///< the aggregation point's clock at dispatch
  std::shared_ptr<const fl::device_clock> clock; ///< every client's device
  std::int64_t server = -1;                      ///< the promoted server aggregating (-1: the coordinator)
  double deadline_s = 0;                         ///< rounds.timeout_s in simulated seconds (in.timeout_s is
                                                 ///< then runtime.wall_timeout_s, a real hang's backstop)
};

struct round_inputs {
  fl::round_record header;     ///< phase, round, cluster, server, term: copied into the result
  std::vector<peer> available; ///< who may be asked, sorted by id
  weight_blob model;           ///< the model participants start from
  double fraction_fit = 0;
  double quorum = 0;
  double timeout_s = 0;
  std::uint64_t sampling_seed = 0;
  bool keep_updates = false;   ///< the caller needs every update even if the strategy does not
  /// rounds.stragglers: this share of the participants runs 1..epochs local epochs
  /// (fl::stragglers_of); kept, they train less, else they are not asked (FedAvg drops them).
  double stragglers = 0;
  bool keep_stragglers = false;
  std::uint32_t epochs = 1;    ///< the clients' local epochs when the strategy sends none
  std::uint64_t durable = 0;   ///< the last checkpoint's fl::layer_step (FedBN's layer histories)
  /// Set under clock=virtual: each participant's completion is known at dispatch; one that
  /// cannot make the deadline is not asked, one whose update comes later (an injected slow
  /// delay) is refused, and the record's sim_time_s is the round's simulated end.
  std::optional<virtual_round> sim;
  /// Registered clients without an actor (a fleet of descriptors, clustering.method=none): called
  /// once with the peers asked, it gives each one without a handle its actor before the fits go out.
  std::function<void(std::vector<peer>&)> materialize;
  /// privacy.dp at this aggregation point (dp_round).
  dp_round dp;
  /// privacy.secure_aggregation: the members' updates are summed under masks (actors/secure_round)
  /// and never seen one by one. A round whose caller or strategy needs every update (clustering
  /// features, CFL's split) runs in the clear: the record's secure_members is 0 then.
  secure_setup secure;
};

/// An evaluation's outcome, summed over everything it covered.
struct eval_summary {
  std::string error;           ///< empty when it worked
  std::uint64_t samples = 0;
  double loss = 0;
  double accuracy = 0;
};

/// Evaluates a model where the aggregation point uses it (the coordinator: its test set; a
/// cluster server: its members' local splits, skipping those that just failed) and calls back
/// once.
using evaluator =
  std::function<void(const weight_blob&, const std::vector<failure>& failed, std::function<void(eval_summary)>)>;

struct round_outcome {
  fl::round_record record;
  weight_blob model;                               ///< the next model (the given one when not aggregated)
  std::shared_ptr<const fl::round_updates> updates; ///< the accepted updates (kept when asked)
  std::vector<failure> failures;                   ///< with error codes, sorted by id
  std::string eval_error;                          ///< why the evaluation failed, or empty
  /// Set when the run cannot go on from this round (round_fatal_error, or a round the strategy
  /// can never aggregate at its size); the aggregation point ends the run with it.
  std::optional<caf::error> fatal;
};

struct round_hooks {
  std::function<void(const fit_result&)> on_update; ///< each accepted update, as it arrives
  std::function<void(std::size_t settled, std::size_t total)> on_progress;
};

/// Whether a failure of this class would happen again in another round with the same model:
/// training diverged or an update refused (model_error, bad_update), a node's data or
/// configuration (data_error, config_error). Timeouts, crashes and lost nodes are not.
bool repeats(std::optional<errc> code);

/// When no update was accepted and every failure is of a class another round would meet again
/// (training diverged, an update refused as non-finite or diverged, a node's data or
/// configuration), the error to end the run with: model_error for divergence, else the
/// failure's own class. The same model goes out again next round (a round that does not
/// aggregate keeps it), so such a round repeats for ever and the run would end having learned
/// nothing; it applies per round at every aggregation point (the coordinator's initial rounds,
/// each cluster's rounds), because one cluster stuck this way is a result nobody asked for.
/// `advice` ends a model_error's text (divergence_advice).
std::optional<caf::error> round_fatal_error(const std::vector<failure>& failures, std::size_t accepted,
                                            const std::string& advice = {});

/// What to add to a divergence error when the strategy itself takes a step (fedavgm and the
/// server optimizers: "lower strategy.server_lr"), or empty.
std::string divergence_advice(const fl::strategy_options& options);

/// Why a round did not reach its quorum, for the record: how many answered usefully, and of
/// the failures how many were refused as diverged and how many did not answer.
std::string below_quorum(std::size_t accepted, std::size_t asked, std::size_t need,
                         const std::vector<failure>& failures);

/// Runs one round through `watch`'s actor and calls `done` once. `strategy` must outlive it.
/// A round the strategy can never aggregate at its size (strategy::cannot_ever_aggregate) asks
/// nobody: its outcome is not aggregated, with `fatal` a config_error saying why.
void run_round(down_watch& watch, fl::strategy& strategy, round_inputs in, evaluator evaluate,
               std::function<void(round_outcome)> done, round_hooks hooks = {});

/// Sample-weighted evaluation over several results (e.g. members' local splits).
eval_summary combine(const std::vector<std::pair<std::uint32_t, eval_result>>& results);

} // namespace flotilla::actors
