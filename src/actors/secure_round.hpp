#pragma once
// The aggregator's side of secure aggregation (privacy.secure_aggregation) over actors: the
// four protocol steps of fl/secagg/protocol.hpp as fan-outs to the members that trained, each
// with the round's deadline. The same code at every aggregation point (the coordinator's
// rounds and a promoted cluster server's); run_round calls it once its secure fits are in.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/fan_out.hpp"
#include "actors/secure_member.hpp"
#include "fl/run_report.hpp"
#include "fl/secagg/model_registry.hpp"
#include "fl/secagg/protocol.hpp"

namespace flotilla::actors {

/// privacy.secure_aggregation at one aggregation point (round_inputs::secure).
struct secure_setup {
  bool on = false;
  /// The promoted client that aggregates, or -1 (the coordinator). Its own update is summed in
  /// the clear: the aggregator is counted as corrupted, it knows that update anyway.
  std::int64_t aggregator = -1;
  std::size_t min_members = fl::secagg::min_cluster; ///< privacy.min_cluster
  std::uint64_t seed = 0;                            ///< the run's seed: sessions and round contexts
  /// The coordinator's signature of the round's session and model (fl/secagg/model_registry),
  /// sent to every member with its secure fit.
  std::vector<std::uint8_t> registration;
  /// Called before each step goes out (fault injection); false ends the run there, without a
  /// callback (the aggregating actor is going away).
  std::function<bool(std::uint8_t stage)> before_stage;
  /// Fault injection (kind inconsistent_model): changes the lowest-id member's fit before it goes
  /// out, as an aggregator mounting the model-inconsistency attack would.
  std::function<void(fit_ins&)> tamper_fit;
};

/// A member whose secure fit came in: what the protocol and the round record need of it.
struct secure_member {
  peer who;
  std::uint64_t samples = 0;  ///< its training samples (the record; the weight it masked is fit_ins's)
  std::uint64_t weight = 0;   ///< the FedAvg weight it multiplied its update by
  double train_loss = 0;
  double seconds = 0;
  std::uint8_t bits = 0;      ///< fit_result::secure_bits
};

struct secure_outcome {
  std::string error;                    ///< why there is no sum (the round does not aggregate)
  std::vector<std::int64_t> sum;        ///< the survivors' masked contributions, unmasked
  std::vector<secure_member> survivors; ///< whose inputs are in the sum, by id
  std::vector<failure> dropped;         ///< members that fell out of the protocol, and why
  unsigned bits = 0;                    ///< the ring's bits
  std::uint64_t bytes_up = 0;           ///< protocol bytes the members sent, all stages
  std::uint64_t bytes_down = 0;         ///< protocol bytes sent to them
};

/// The ring a sum of these members' contributions needs: bits_for_sum of the sum of their
/// largest magnitudes. Empty optional when even 64 bits would not hold it.
std::optional<unsigned> ring_bits(const std::vector<secure_member>& members);

/// SecAgg+'s share group for a round of `members` (Bell et al. 2020: O(log n) neighbours keep
/// the guarantee with high probability): 2 ceil(log2 n) + 1, at least 7; 0 (everyone, plain
/// SecAgg) when that is not smaller than the round. Each member then agrees keys, shares and
/// masks with its group only: its cost grows with log n instead of n.
std::size_t share_group_size(std::size_t members);

/// A round's session number: a function of the seed and the round's place (phase, cluster,
/// round, term), never 0, so a member tells a re-run round (a new term) from the old one.
std::uint64_t secure_session(std::uint64_t seed, int phase, std::int64_t cluster, std::uint32_t round,
                             std::uint32_t term);
/// secure_session of the round a record's header names (the coordinator's rounds: phase
/// "initial", no cluster, term 0).
std::uint64_t secure_session(std::uint64_t seed, const fl::round_record& header);

/// strategy.mode=buffered: the session a fit sent at model `version` by the aggregation point
/// `header` names (phase, cluster) is registered under, whatever the server's term (a new server
/// sends the same version's fits again: the same model, the same registration). Distinct from
/// every round's and step's secure_session.
std::uint64_t buffered_fit_session(std::uint64_t seed, const fl::round_record& header, std::uint64_t version);
/// The same by secure_session's numbers (phase 0 initial, 1 cluster; cluster -1 for none).
std::uint64_t buffered_fit_session(std::uint64_t seed, int phase, std::int64_t cluster, std::uint64_t version);

/// What committing held fits to a buffered step's session gave (commit_held_fits).
struct commit_outcome {
  std::map<std::uint32_t, std::uint8_t> bits; ///< each member that committed: its input's magnitude_bits
  std::vector<failure> failed;                ///< members that could not (gone, a fit not held, a refusal)
  std::uint64_t bytes_up = 0, bytes_down = 0;
};

/// strategy.mode=buffered: asks each member in `fits` to commit its held fits to `session`
/// (secagg_msg stage commit_stage, secure_sessions::commit; `step` is the commit's header, its
/// fits each member's own), and calls `done` once.
void commit_held_fits(down_watch& watch, std::uint64_t session, const step_commit& step,
                      const std::map<std::uint32_t, std::pair<peer, std::vector<held_fit>>>& fits, double timeout_s,
                      std::function<void(commit_outcome)> done);

/// The coordinator's registration of a secure round's model (fl/secagg/model_registry): its
/// signature of (session, model_digest(model)), as fit_ins carries it.
std::vector<std::uint8_t> register_model(const fl::secagg::model_registrar& registrar, std::uint64_t session,
                                         const std::vector<float>& model);

/// Runs the protocol with `members` (sorted by id) on inputs of `length` values and calls
/// `done` once. A member that fails, times out, goes down or sends a message the protocol
/// refuses drops out; the round ends without a sum (outcome.error) when fewer than the
/// threshold remain at some stage or fewer than `setup.min_members` trained.
void run_secure_sum(down_watch& watch, const secure_setup& setup, std::uint64_t session,
                    std::vector<secure_member> members, std::size_t length, const fl::secagg::digest32& model_hash,
                    double timeout_s, std::function<void(secure_outcome)> done);

} // namespace flotilla::actors
