#pragma once
// What defines a clustered-FL experiment, as plain values: filled from the configuration in one
// step (config/settings.cpp), read by the coordinator and the clients. Defaults live only in
// config/default.json.
#include "fl/async_aggregation.hpp"
#include "fl/devices.hpp"
#include "fl/privacy/dp_clip.hpp"
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "fl/stragglers.hpp"

#include "fl/strategy_options.hpp"

namespace flotilla::fl {

/// rounds.eval_every: whether round or server step `n` of a phase of `last` is evaluated (every
/// `every`-th, and always the last), at the coordinator and at every cluster server alike.
inline bool evaluated_step(std::uint64_t n, std::uint64_t last, std::uint32_t every) {
  return n >= last || n % std::max<std::uint32_t>(1, every) == 0;
}

struct round_options {
  std::uint32_t initial = 0;     ///< rounds before clustering
  std::uint32_t cluster = 0;     ///< rounds inside each cluster
  double fraction_fit = 0;       ///< share of the available clients asked per round
  double quorum = 0;             ///< share of asked clients that must answer
  double timeout_s = 0;          ///< deadline of one request (a fit, an evaluation), wall clock
  /// clock=virtual: rounds.timeout_s is this, in simulated seconds; timeout_s is then
  /// runtime.wall_timeout_s, the wall-clock backstop against a real hang.
  double sim_deadline_s = 0;
  double target_accuracy = 0;    ///< global test accuracy to reach (0 = off)
  bool stop_at_target = false;   ///< end the initial phase at the first round that reaches it
  /// Evaluate the global model every this many initial rounds or server steps (and always the
  /// phase's last): long asynchronous runs need not pay a test-set pass per step.
  std::uint32_t eval_every = 1;
  /// Whether initial round or server step `n` (of `last`) is evaluated.
  bool evaluates(std::uint64_t n, std::uint64_t last) const;
  bool cluster_lockstep = false; ///< rounds.cluster_sync=lockstep: every cluster waits for all after each round
  straggler_options stragglers;  ///< rounds.stragglers and strategy.stragglers
  std::uint32_t epochs = 1;      ///< train.epochs: the local work a straggler does part of
};

inline bool round_options::evaluates(std::uint64_t n, std::uint64_t last) const {
  return evaluated_step(n, last, eval_every);
}

struct clustering_options {
  std::string method;             ///< kmeans | agglomerative | cfl | ifca
  std::uint32_t k = 0;            ///< clusters; 0 = "auto" (silhouette over 2..k_max)
  std::uint32_t k_max = 0;
  std::uint32_t restarts = 0;
  std::uint32_t max_iterations = 0;
  std::uint32_t sketch_dim = 0;   ///< 0: cluster on full weights; else CountSketch dimension
  std::string linkage;            ///< agglomerative: ward | average
  double cfl_eps1 = 0;            ///< CFL: split when the mean update norm is below this ...
  double cfl_eps2 = 0;            ///< ... and the largest update norm above this
  std::uint32_t cfl_min_size = 0; ///< CFL: smallest cluster a split may create
};

/// Simulation-only model poisoning by some clients.
struct attack_options {
  std::vector<std::uint32_t> clients; ///< attacking client ids (empty: no attack)
  std::string kind;                   ///< sign_flip | gaussian | scale | label_flip
  double scale = 0;
};

/// One injected fault: a client (or a cluster's current server) crashes, hangs or slows down.
struct fault {
  std::int64_t client = -1;      ///< target client id, or -1 when `server_of` names it
  std::int64_t server_of = -1;   ///< "server:<cluster>": the cluster's server at that time
  std::string kind;              ///< crash | hang | slow
  std::string phase;             ///< initial | cluster
  std::uint32_t round = 0;
  double seconds = 0;            ///< hang: how long (0 = for good); slow: the delay
};

/// privacy.*: client-level differential privacy (DP-FedAvg, McMahan et al. ICLR 2018).
struct privacy_options {
  std::string dp = "off";        ///< off | central (noise added where the updates are summed)
  double clip = 1.0;             ///< each update's L2 norm is clipped to this (C; adaptive: the first round's)
  /// privacy.adaptive_clip (Andrew et al. 2021): each aggregation point moves its C towards the
  /// target quantile of its members' update norms, from a noised count of the updates that fit.
  bool adaptive_clip = false;
  fl::privacy::adaptive_clip_rule clip_rule; ///< privacy.target_quantile, privacy.clip_lr
  double noise_multiplier = 1.0; ///< sigma: the sum's noise is N(0, (sigma C)^2) per weight
  double delta = 1e-5;           ///< epsilon is reported at this delta
  double epsilon_budget = 0;     ///< an aggregation point stops before exceeding it (0: no budget)
  bool secure_aggregation = false; ///< members' updates are summed under masks (SecAgg+, actors/secure_round)
  std::uint32_t min_cluster = 3;   ///< secure aggregation: members besides the aggregator, at least
  bool on() const { return dp != "off"; }
};

/// The whole experiment.
struct experiment {
  std::uint64_t seed = 0;
  std::uint32_t clients = 0;      ///< clients present from the start
  std::uint32_t late_clients = 0; ///< clients that arrive during the cluster phase
  std::uint32_t late_join_round = 0;
  round_options rounds;
  clustering_options clustering;
  strategy_options strategy;
  attack_options attack;
  std::vector<fault> faults;
  bool virtual_clock = false;     ///< clock=virtual: device time is simulated (fl/device_time.hpp)
  device_options devices;         ///< devices.*: the fleet under the virtual clock
  std::string selection_policy = "resources"; ///< selection.policy (fl/server_choice.hpp)
  async_options async;            ///< strategy.mode and its knobs (fl/async_aggregation.hpp)
  privacy_options privacy;        ///< privacy.*

  std::uint32_t total_clients() const { return clients + late_clients; }
  bool attacker(std::uint32_t id) const;
};

} // namespace flotilla::fl
