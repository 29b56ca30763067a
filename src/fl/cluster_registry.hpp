#pragma once
// The cluster state of the cluster phase in one place: who is in which cluster, who serves it,
// its model and strategy state, its elections, and which clients are lost. The coordinator
// holds one and asks it every decision (who serves after a crash, where a late joiner or an
// IFCA move goes, what a CFL split creates); it is plain C++, so every rule is tested here.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fl/async_aggregation.hpp"
#include "fl/strategy.hpp"

namespace flotilla::fl {

/// One change of a cluster's server.
struct election {
  std::uint32_t round = 0;
  std::uint32_t term = 0; ///< the term the new server starts
  std::int64_t from = -1; ///< the previous server, -1 when there was none
  std::uint32_t to = 0;
  std::string reason;
};

/// One cluster as the registry keeps it.
struct cluster_record {
  std::uint32_t id = 0;
  std::vector<std::uint32_t> members; ///< sorted client ids; lost clients have left
  std::optional<std::uint32_t> server;
  std::int64_t last_server = -1; ///< the latest server, even once lost or gone (an election's `from`)
  std::shared_ptr<const std::vector<float>> model;
  strategy_state state;
  std::uint32_t rounds_done = 0; ///< the last recorded round (a split child continues its parent's)
  std::uint32_t term = 0;        ///< 0 before a first server, 1 after select_servers, +1 per election
  std::vector<election> elections;
  bool failed = false;
  std::string failure;
  std::uint32_t created_round = 0;
  std::int64_t parent = -1; ///< the cluster a CFL split took this one from
  double sim_time_s = 0;    ///< the cluster's own clock: when its last round ended (fl::device_time)
  async_state async;        ///< strategy.mode=buffered|async: its server's fits in flight after rounds_done
  /// privacy.dp: the cluster's accountant (its RDP per order, fl/privacy/rdp_accountant) after
  /// rounds_done; empty before its first round. A split child continues its parent's.
  std::vector<double> privacy_rdp;
  /// privacy.adaptive_clip: the clip norm for the cluster's next round (0: not moved yet; it
  /// starts from the coordinator's, run_report's dp_clip, else privacy.clip).
  double dp_clip = 0;
};

/// One client as the registry keeps it.
struct client_record {
  std::optional<double> score; ///< cpu + mem from its resource report; none scores worst
  bool lost = false;           ///< crashed, hung or its node gone: never a member or server again
  std::string lost_reason;
  std::uint32_t joined_round = 0; ///< 0 for the clients of create, the round for late joiners
  std::optional<std::uint32_t> cluster;
};

/// The seed's server rule, as a score: a client's CPU percent plus memory percent; the lowest
/// live member of a cluster serves (select_servers, elect).
inline double server_score(double cpu_percent, double mem_percent) { return cpu_percent + mem_percent; }

class cluster_registry {
public:
  /// An assignment entry for a client that is in no cluster.
  static constexpr std::uint32_t unassigned = 0xffffffffu;

  /// Starts the clusters 0..k-1: client i joins cluster assignment[i] (none when `unassigned`).
  /// Every cluster needs a
  /// member and the model must be set; all clusters start from `model` and `state`.
  void create(const std::vector<std::uint32_t>& assignment, std::uint32_t k,
              std::shared_ptr<const std::vector<float>> model, strategy_state state = {});

  /// A registry exactly as saved (checkpoints): its clusters, clients and whether servers were
  /// selected. Throws std::invalid_argument when the parts contradict each other.
  static cluster_registry restore(std::vector<cluster_record> clusters, std::map<std::uint32_t, client_record> clients,
                                  bool selected);
  bool selected() const { return selected_; }

  /// Records a client's resource score (cpu% + mem%, lower serves better).
  void set_score(std::uint32_t client, double score);

  /// The seed rule, once: each cluster's live member with the lowest score serves (ties to the
  /// lowest id), term 1, not an election. A cluster without a live member fails.
  void select_servers();

  /// The client leaves its cluster for good and is never elected. Returns the clusters whose
  /// server it was (they need an election). Marking a lost client again does nothing.
  std::vector<std::uint32_t> mark_lost(std::uint32_t client, const std::string& reason = "lost");

  /// Replaces the cluster's server by the live member with the lowest score other than the
  /// current or last server (ties to the lowest id), term + 1, recorded as an election. With no
  /// such member the cluster fails and nullopt is returned.
  std::optional<std::uint32_t> elect(std::uint32_t cluster, std::uint32_t round, const std::string& reason);

  /// A late joiner (a client the registry does not know yet) becomes a member in `round`.
  void add_member(std::uint32_t cluster, std::uint32_t client, std::uint32_t round);

  /// Moves a live client to another cluster (IFCA reassignment). Returns the clusters that lost
  /// their server by it (its old cluster when it served there).
  std::vector<std::uint32_t> move_member(std::uint32_t client, std::uint32_t to_cluster);

  /// A CFL split: `second_members` (a proper, non-empty subset of the cluster's members) form a
  /// new cluster with the parent's model and strategy state, no server yet, and the parent's
  /// rounds_done. If the parent's server went with them, the parent has no server either.
  /// Returns the new cluster's id.
  std::uint32_t split(std::uint32_t cluster, const std::vector<std::uint32_t>& second_members, std::uint32_t round);

  /// A finished round: the cluster's new model and strategy state; rounds_done = round; its
  /// clock moves to `ended` (simulated seconds; never backwards).
  void record_round(std::uint32_t cluster, std::uint32_t round, std::shared_ptr<const std::vector<float>> model,
                    strategy_state state, double ended = 0, async_state async = {});
  /// privacy.dp: the cluster's accountant state after its latest round.
  void record_privacy(std::uint32_t cluster, std::vector<double> rdp);
  /// privacy.adaptive_clip: the clip norm of the cluster's next round.
  void record_clip(std::uint32_t cluster, double clip);

  /// Moves `cluster`'s clock on by `seconds` (an election, a late join: time its rounds wait).
  void advance_clock(std::uint32_t cluster, double seconds);

  /// Sets every live cluster's clock to `at` (the start of the cluster phase) or, for a common
  /// point, moves `clusters`' clocks to the latest of them.
  void start_clocks(double at);
  void meet_clocks(const std::vector<std::uint32_t>& clusters);

  /// The cluster fails for a reason the registry cannot see (e.g. its server's promotion failed).
  void mark_failed(std::uint32_t cluster, const std::string& failure);

  /// One cluster; throws std::invalid_argument for an unknown id.
  const cluster_record& cluster(std::uint32_t id) const;
  /// Every cluster, by id (ids are dense and never reused).
  const std::vector<cluster_record>& clusters() const { return clusters_; }
  /// The members able to train or serve (lost clients have left `members` already).
  std::vector<std::uint32_t> live_members(std::uint32_t id) const;
  std::optional<std::uint32_t> server_of(std::uint32_t id) const;
  /// One client; throws std::invalid_argument for an unknown id.
  const client_record& client(std::uint32_t id) const;
  /// Every known client, by id.
  const std::map<std::uint32_t, client_record>& clients() const { return clients_; }
  /// The client's cluster, none when it is lost. Throws for an unknown client.
  std::optional<std::uint32_t> cluster_of(std::uint32_t client) const;
  bool lost(std::uint32_t client) const;

private:
  cluster_record& live_cluster(const char* who, std::uint32_t id);
  client_record& known_client(const char* who, std::uint32_t id);
  std::optional<std::uint32_t> best_candidate(const cluster_record& c, std::int64_t excluded) const;

  std::vector<cluster_record> clusters_;
  std::map<std::uint32_t, client_record> clients_;
  bool selected_ = false;
};

} // namespace flotilla::fl
