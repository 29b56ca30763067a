#pragma once
// The cluster phase as a state machine on plain values: the cluster registry plus each
// cluster's progress. It takes events (a server was promoted or could not be, a round finished,
// a server was lost or missed its deadline, the clients reported their losses, late joiners were
// placed) and answers with commands (promote, start a round, ask the losses, let the late clients
// join, write a checkpoint, finish) that the coordinator actor carries out. Every rule of the
// phase lives here or in the pure functions it calls, so it is tested without actors
// (tests/unit-cluster-phase-machine.cpp).
//
// Clusters never wait for each other, except at the common points a method needs (its traits,
// fl/cluster_methods.hpp):
//   - reassignment by loss (IFCA): after every round but the last, every client compares every
//     cluster's model, so every cluster must have finished that round;
//   - splits (CFL): after every round, splits give new clusters ids in cluster order (a run must
//     number them the same way every time, whichever cluster finished first);
//   - late joiners: before late_join_round, they are placed by the centroids of every cluster;
//   - rounds.cluster_sync=lockstep: after every round (the schedule before clusters ran free,
//     kept to compare with).
// The evaluation waits for every cluster's last round, since it averages the cluster models.
#include <cstdint>
#include <map>
#include <memory>

#include "fl/device_time.hpp"
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fl/cluster_methods.hpp"
#include "fl/cluster_registry.hpp"
#include "fl/ifca.hpp"
#include "fl/late_join.hpp"
#include "fl/privacy/dp_clip.hpp"
#include "fl/run_report.hpp"

namespace flotilla::fl {

/// The rules of one run's cluster phase, from its configuration.
struct cluster_phase_rules {
  std::uint32_t rounds = 0;          ///< rounds.cluster
  std::string method;                ///< clustering.method: its traits (fl/cluster_methods.hpp) say where clusters meet
  std::uint32_t late_clients = 0;    ///< late_clients
  std::uint32_t late_join_round = 0; ///< they join before this cluster round
  bool lockstep = false;             ///< rounds.cluster_sync=lockstep: a common point after every round
  /// clock=virtual: what elections and late joins cost the clusters' clocks. A lost server is
  /// noticed at its round's deadline (`deadline_s`, as a hang holds any round), then the new
  /// server downloads the cluster model; a late join holds the clusters meeting for it until the
  /// slowest joiner's fit (`epochs` local epochs) is in.
  std::shared_ptr<const device_clock> clock;
  double deadline_s = 0;
  std::uint32_t epochs = 1;
  /// privacy.dp: every cluster is an aggregation point with its own accountant (its
  /// cluster_record's privacy_rdp), which starts from the coordinator's (the report's
  /// privacy_rdp: its members' data went into the initial rounds too): a round that asked
  /// members adds one step at q = asked / live members, its record gets the cluster's epsilon,
  /// and a cluster stops before the round that would take it past the budget. sigma 0: no DP.
  double dp_sigma = 0;
  double dp_delta = 1e-5;
  double dp_budget = 0;   ///< 0: no budget
  double fraction_fit = 1;
  /// privacy.adaptive_clip: each cluster moves its own clip norm after every round it counted
  /// (its cluster_record's dp_clip), starting from the coordinator's (the report's dp_clip),
  /// else privacy.clip (`dp_clip`).
  bool dp_adaptive = false;
  privacy::adaptive_clip_rule clip_rule;
  double dp_clip = 0;
};

/// What the coordinator does next.
struct phase_command {
  enum class kind {
    promote,     ///< hand `cluster` to its server (registry.server_of); `demote`: a former server to demote first
    start_round, ///< the first attempt at `round` of `cluster`: apply that round's faults
    run_round,   ///< ask `cluster`'s server to run `round` (again after an election)
    ask_losses,  ///< IFCA: every member of `clusters` evaluates each of their models (losses_reported)
    join_late,   ///< the late clients train and are placed (joiners_placed) before `round`
    checkpoint,  ///< the phase can be resumed from here: every live cluster has done `round` rounds
    round_done,  ///< `record` is the finished round: show it (metrics line)
    event,       ///< a line worth showing: an election, a split, a move
    warning,     ///< a line about a problem
    finish,      ///< every cluster is done or failed: evaluate
  };
  kind what = kind::event;
  std::uint32_t cluster = no_cluster;
  std::uint32_t round = 0;
  std::int64_t demote = -1;
  std::vector<std::uint32_t> clusters;
  std::string text;
  round_record record;

  static phase_command make(kind k, std::uint32_t cluster = no_cluster, std::uint32_t round = 0) {
    phase_command c;
    c.what = k;
    c.cluster = cluster;
    c.round = round;
    return c;
  }
};
using phase_commands = std::vector<phase_command>;

/// What a cluster's server reported for one round.
struct round_report {
  round_record record;
  std::shared_ptr<const std::vector<float>> model;
  strategy_state state;
  std::uint64_t aggregator = 0;             ///< the actor that aggregated (report: promotion audit)
  std::vector<std::uint32_t> split_off;     ///< CFL: the members the server proposes to split off
  async_state async;                        ///< strategy.mode=buffered|async: the server's fits in flight
};


class cluster_phase {
public:
  /// Where each cluster stands.
  enum class stage { idle, promoting, running, waiting, done, failed };

  cluster_phase() = default;
  cluster_phase(cluster_phase_rules rules, run_report* report) { configure(std::move(rules), report); }

  /// The rules (the coordinator sets them when it starts) and the report the phase folds its
  /// events into (none: not recorded).
  void configure(cluster_phase_rules rules, run_report* report);

  /// The clusters. Clustering and selection fill it before start(); after that only the phase
  /// changes it (a lost client goes through client_lost).
  cluster_registry& registry() { return registry_; }
  const cluster_registry& registry() const { return registry_; }
  bool late_joined() const { return late_joined_; }
  void set_late_joined(bool joined) { late_joined_ = joined; }

  /// Starts the phase at `now` (seconds on any clock that only goes forward): every live
  /// cluster's server is promoted (after a resume: again, it is a new actor) and the cluster
  /// continues after its own last recorded round. Fresh (right after selection) a checkpoint
  /// comes first.
  phase_commands start(double now, bool resumed);

  /// privacy.adaptive_clip: the clip norm of `cluster`'s next round (0: without adaptive
  /// clipping, the servers clip at privacy.clip).
  double clip_of(std::uint32_t cluster) const;

  // Events. Each returns what to do next.
  phase_commands promoted(std::uint32_t cluster, double now);
  phase_commands promotion_failed(std::uint32_t cluster, const std::string& why, double now);
  phase_commands round_finished(std::uint32_t cluster, round_report result, std::size_t parameters,
                                std::uint32_t epochs, double now);
  /// The server did not deliver `round` (gone, hung, no answer by the deadline): it is lost,
  /// the next member is elected and the round re-runs.
  phase_commands server_lost(std::uint32_t cluster, std::uint32_t round, std::uint32_t server, const std::string& why,
                             double now);
  /// A client is gone (DOWN). A server that was running a round is replaced when that round
  /// fails; nothing to do now.
  void client_lost(std::uint32_t client, const std::string& why);
  /// IFCA: each client's losses on the models of the ask_losses command's clusters, in order.
  phase_commands losses_reported(std::uint32_t round, const std::map<std::uint32_t, std::vector<double>>& losses,
                                 double now);
  /// The late clients placed (place_late_joiners) are members from `round` on.
  phase_commands joiners_placed(std::uint32_t round, const std::vector<late_join_record>& placed, double now);

  // Progress.
  stage stage_of(std::uint32_t cluster) const;
  /// The round the cluster runs next (or ran last, once done).
  std::uint32_t next_round(std::uint32_t cluster) const;
  /// Every live cluster has done this many rounds (a checkpoint's round).
  std::uint32_t rounds_done_by_all() const;
  /// Seconds each cluster spent ready for its next round but held at a common point.
  const std::map<std::uint32_t, double>& waited() const { return waited_; }
  double total_waited() const;
  bool finished() const { return finished_; }

private:
  enum class then { advance, rerun, barrier };
  struct progress {
    stage at = stage::idle;
    std::uint32_t next = 1;    ///< the round to run next
    std::uint32_t started = 0; ///< the last round whose faults were applied
    then after_promotion = then::advance;
    std::uint32_t promotion_round = 0;
    double since = 0;          ///< when it started waiting
  };

  const cluster_method& method() const;
  bool late_join_before(std::uint32_t round) const;
  bool common_point_after(std::uint32_t round) const;
  bool resumable() const;
  void proceed(std::uint32_t c, phase_commands& out);
  void run(std::uint32_t c, phase_commands& out);
  void elect(std::uint32_t c, std::uint32_t round, const std::string& reason, then after, phase_commands& out);
  void fail(std::uint32_t c, phase_commands& out);
  void try_release(phase_commands& out);
  void apply_splits(phase_commands& out);
  void after_step(phase_commands& out);
  void release(phase_commands& out);
  void check_finish(phase_commands& out);
  void checkpoint(phase_commands& out);
  progress& of(std::uint32_t c);
  void account(std::uint32_t c, round_record& rec);
  bool over_budget(std::uint32_t c, phase_commands& out);

  cluster_phase_rules rules_;
  run_report* report_ = nullptr;
  cluster_registry registry_;
  std::map<std::uint32_t, progress> progress_;
  std::map<std::uint32_t, double> waited_;
  std::map<std::uint32_t, std::uint32_t> moved_in_; ///< IFCA: members moved into each cluster before its next round
  std::vector<std::pair<std::uint32_t, std::vector<std::uint32_t>>> splits_; ///< CFL proposals of the round
  std::vector<std::uint32_t> ask_order_; ///< IFCA: the clusters whose losses were asked, in order
  bool late_joined_ = false;
  bool finished_ = false;
  double now_ = 0;
  // The common point in progress: its round, the step it is in, promotions it waits for, and
  // whether its clusters reached it by finishing a round (a resumed run meets it done).
  enum class step { none, gathering, adapting, joining };
  step step_ = step::none;
  std::uint32_t barrier_round_ = 0;
  std::size_t pending_promotions_ = 0;
  bool adapt_due_ = false;
  bool releasing_ = false; ///< release() is letting the waiting clusters go
};

} // namespace flotilla::fl
