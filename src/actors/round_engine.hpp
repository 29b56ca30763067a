#pragma once
// One federated round, the same code at every aggregation point (the coordinator's initial
// rounds and every promoted cluster server's rounds): the strategy picks participants and the
// fit configuration, the engine sends the model, collects updates and failures with deadlines,
// checks the quorum, aggregates through the strategy and evaluates the new model.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/fan_out.hpp"
#include "actors/protocol.hpp"
#include "fl/round_updates.hpp"
#include "fl/strategy.hpp"

namespace flotilla::actors {

/// What a round needs besides the strategy.
struct round_inputs {
  fl::round_record header;     ///< phase, round, cluster, server, term: copied into the result
  std::vector<peer> available; ///< who may be asked, sorted by id
  weight_blob model;           ///< the model participants start from
  double fraction_fit = 0;
  double quorum = 0;
  double timeout_s = 0;
  std::uint64_t sampling_seed = 0;
  bool keep_updates = false;   ///< the caller needs every update even if the strategy does not
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
};

struct round_hooks {
  std::function<void(const fit_result&)> on_update; ///< each accepted update, as it arrives
  std::function<void(std::size_t settled, std::size_t total)> on_progress;
};

/// Runs one round through `watch`'s actor and calls `done` once. `strategy` must outlive it.
void run_round(down_watch& watch, fl::strategy& strategy, round_inputs in, evaluator evaluate,
               std::function<void(round_outcome)> done, round_hooks hooks = {});

/// Sample-weighted evaluation over several results (e.g. members' local splits).
eval_summary combine(const std::vector<std::pair<std::uint32_t, eval_result>>& results);

} // namespace flotilla::actors
