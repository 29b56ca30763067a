#pragma once
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "fl/cluster_registry.hpp"

namespace flotilla::fl {

constexpr std::uint32_t no_cluster = std::numeric_limits<std::uint32_t>::max();

/// test_accuracy and test_loss of a round that was not evaluated (rounds.eval_every).
constexpr double not_evaluated = -1;

/// One round at one aggregation point: a line of metrics.jsonl. The same record is produced by
/// the coordinator's initial rounds and by every cluster server's rounds.
struct round_record {
  std::string phase;                  ///< "initial" | "cluster"
  std::uint32_t round = 0;
  std::uint32_t cluster = no_cluster; ///< no_cluster in the initial phase
  std::uint32_t server = no_cluster;  ///< client id of the aggregating server (cluster phase)
  std::uint32_t term = 0;             ///< the cluster's server term (elections so far + 1)
  std::uint32_t asked = 0;            ///< participants asked to train
  std::uint32_t clients = 0;          ///< updates aggregated
  std::uint32_t failures = 0;
  std::vector<std::uint32_t> failed;
  std::vector<std::string> failure_reasons;
  bool aggregated = true;             ///< false: quorum missed or the strategy refused, model kept
  std::string not_aggregated;         ///< why, when aggregated is false
  std::uint64_t samples = 0;          ///< training samples of the aggregated updates
  double train_loss = 0;
  double test_loss = 0;               ///< not_evaluated: a round rounds.eval_every skipped (null in JSON)
  double test_accuracy = 0;           ///< initial: global test set; cluster: members' local splits
  std::uint64_t evaluated = 0;        ///< images that evaluation covered
  double seconds = 0;
  /// The aggregated updates' own training seconds, summed over their fits (each ran on one
  /// trainer): against `seconds` times the trainers, what of a round was not training.
  double fit_seconds = 0;
  /// Seconds into the run when the round ended: simulated under clock=virtual, the wall clock
  /// since the run began under clock=wall.
  double sim_time_s = 0;
  std::uint32_t reassigned = 0;       ///< IFCA: members that moved into this cluster before the round
  double update_norm_mean = 0;        ///< CFL: ||mean of the members' updates||
  double update_norm_max = 0;         ///< CFL: largest member update norm
  std::uint32_t stragglers = 0;       ///< participants that ran fewer epochs (rounds.stragglers)
  bool stragglers_kept = false;       ///< their partial updates were aggregated (else dropped, never asked)
  double staleness_mean = 0;          ///< strategy.mode=buffered|async: server versions behind, over the step's updates
  std::uint32_t staleness_max = 0;
  double epsilon = -1;                ///< privacy.dp: the aggregation point's epsilon after this round (-1: no DP)
  /// privacy.secure_aggregation: members whose updates were summed under masks (0: a round in
  /// the clear), the ring's bits, and the protocol's bytes from and to all members.
  /// privacy.dp=distributed: the round's effective noise multiplier, sigma sqrt(k / m) with k of
  /// its m members' shares in the sum (0: the configured sigma, added centrally).
  double noise_multiplier = 0;
  std::uint32_t secure_members = 0;
  std::uint32_t secure_bits = 0;
  std::uint64_t secure_bytes_up = 0;
  std::uint64_t secure_bytes_down = 0;
  /// privacy.dp: the clip norm C the round's members clipped to (0: no DP), and under
  /// privacy.adaptive_clip the noised fraction of its updates that fit within it (-1: not
  /// counted: no adaptive clipping, or the round did not aggregate); the aggregation point's
  /// next C is fl::privacy::adaptive_clip_update of the two.
  double clip = 0;
  double clip_fraction = -1;
  std::uint32_t dropped_stale = 0;    ///< updates dropped as staler than strategy.max_staleness
  std::vector<std::uint32_t> staleness; ///< each aggregated update's staleness (the report's histogram)
};

/// Who was scored how during server selection.
struct client_score {
  std::uint32_t client = 0;
  double host_cpu = 0, host_mem = 0, own_cpu_seconds = 0, window_seconds = 0;
  std::uint64_t own_bytes = 0;
  bool profiled = false;
  double cpu = 0, mem = 0;
  double score() const { return cpu + mem; }
};

struct cluster_report {
  std::uint32_t id = 0;
  std::vector<std::uint32_t> members;
  std::uint32_t server = 0;
  std::uint32_t term = 0;
  std::vector<election> elections;    ///< re-elections after the first selection
  std::uint32_t created_round = 0;    ///< 0: made by the clustering phase; else a CFL split
  std::int64_t parent = -1;
  std::uint64_t aggregator_actor = 0; ///< CAF actor id that aggregated (the promoted client)
  std::uint32_t rounds_done = 0;
  bool failed = false;
  std::string failure;
  std::uint64_t samples = 0;          ///< training samples of its members
  double accuracy = 0;                ///< its model on the members' local test splits
  double waited_seconds = 0;          ///< ready for a round but held at a common point (this process)
  std::vector<float> model;
};

/// A client that arrived during the cluster phase and where it went.
struct late_join_record {
  std::uint32_t client = 0;
  std::uint32_t cluster = 0;
  std::uint32_t joined_round = 0;
  std::vector<double> distances; ///< to each cluster's centroid, by cluster id (-1: no centroid)
};

/// An injected fault as it was applied.
struct applied_fault {
  std::string target;  ///< as configured: a client id or "server:<cluster>"
  std::int64_t client = -1; ///< who it hit (-1: nobody, e.g. the cluster had failed)
  std::string kind, phase;
  std::uint32_t round = 0;
  double seconds = 0;
};

/// Everything a finished run knows; written to summary.json, clusters.json and models/.
struct run_report {
  std::vector<float> initial_global;  ///< global model at the end of the initial phase
  std::vector<float> global_model;    ///< sample-weighted mean of the cluster models
  double global_accuracy = 0;         ///< global model on the test set
  double initial_global_accuracy = 0; ///< initial global model on the test set
  std::int64_t rounds_to_target = -1; ///< first initial round reaching rounds.target_accuracy
  double sim_time_to_target_s = -1;   ///< sim_time_s of the first round reaching it (-1: not reached)
  /// The coordinator's clock (fl::device_time): the end of the last initial round, once the run
  /// is over its end (the last cluster's clock). Each cluster's clock is in its registry record.
  double sim_time_s = 0;
  std::vector<double> personalized;   ///< per client: its cluster model on its local split (-1: none)
  std::vector<double> initial_personalized; ///< per client: initial global model, same splits
  std::vector<std::uint32_t> assignment;    ///< per client: its cluster (no_cluster: excluded)
  std::vector<std::uint64_t> client_actors; ///< per client: CAF actor id (audits promotion)
  std::map<std::uint32_t, std::array<double, 2>> projection; ///< PCA of each clustered client's features
  std::vector<client_score> scores;
  std::string clustering_method;
  std::uint32_t k = 0;                      ///< clusters made by the clustering phase
  std::map<std::uint32_t, double> silhouette; ///< k -> score, when k was chosen automatically
  std::vector<late_join_record> late_joins;
  std::vector<applied_fault> faults;
  std::vector<cluster_report> clusters;
  std::vector<round_record> rounds;
  double initial_seconds = 0, clustering_seconds = 0, cluster_seconds = 0, evaluation_seconds = 0;
  double cluster_wait_seconds = 0;    ///< summed over clusters: time held at a common point (fl::cluster_phase)
  std::uint64_t samples_trained = 0;  ///< sample-passes of every training in the run
  std::uint64_t samples_evaluated = 0; ///< images evaluated (test set and local splits)
  std::uint64_t bytes_moved = 0;      ///< weight bytes sent and received by the coordinator and servers
  std::vector<std::string> warnings;
  /// privacy.dp: the largest epsilon over aggregation points (-1: no DP), and the coordinator's
  /// accountant (its RDP per order: fl/privacy/rdp_accountant), which a resume continues.
  double epsilon = -1;
  std::vector<double> privacy_rdp;
  /// privacy.adaptive_clip: the coordinator's clip norm for its next round (0: privacy.clip, the
  /// first round's); a cluster's starts from it (cluster_record's dp_clip).
  double dp_clip = 0;
};

struct checkpoint;

/// What the coordinator tells the outside world while it runs. Called from the coordinator's
/// thread only.
class run_observer {
public:
  virtual ~run_observer() = default;
  virtual void on_phase(const std::string& phase, const std::string& detail) = 0;
  virtual void on_progress(std::size_t done, std::size_t total) = 0;
  virtual void on_round(const round_record& record) = 0;
  virtual void on_warning(const std::string& text) = 0;
  /// Something worth a line that is not a problem (an election, a late joiner, a split).
  virtual void on_event(const std::string& text) { on_phase("event", text); }
  /// A point the run can be resumed from (after every round); the observer stores it.
  /// Returns whether the checkpoint was written (a resume can start from it).
  virtual bool on_checkpoint(checkpoint& state) { (void)state; return true; }
};

} // namespace flotilla::fl
