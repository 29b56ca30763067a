#pragma once
// A member's side of secure aggregation (privacy.secure_aggregation), as the client actor keeps
// it: after a secure fit the member holds its update as the integers it will mask, then answers
// the round's protocol steps (fl/secagg/protocol.hpp) one at a time. Plain state, no actors, so
// it is tested without them; the client actor only forwards fit results and secagg_msg steps.
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "fl/async_aggregation.hpp"
#include "fl/privacy/dp_noise.hpp"
#include "fl/secagg/protocol.hpp"

namespace flotilla::actors {

/// SHA-256 of a model's floats (their bytes in host order), the digest members check.
fl::secagg::digest32 model_digest(const std::vector<float>& values);

/// The bit length of the largest |v| (0 for all zeros): what a member reports of its
/// contribution so the aggregator can size the ring (fit_result::secure_bits).
std::uint8_t magnitude_bits(const std::vector<std::int64_t>& values);

/// privacy.adaptive_clip in a secure fit: one more value after the member's update, whether it
/// fit within the round's clip, fixed_terms(1, 1 or 0), plus with distributed noise the member's
/// share of the count's noise (stddev noise_stddev: element trained.size() of its noise stream,
/// which the update's share does not use), so the aggregator learns only the (noised) count.
struct clip_count {
  bool on = false;
  bool within = false;
  double noise_stddev = 0;
};

/// strategy.mode=buffered (FedBuff) under secure aggregation: a member trains before anyone
/// knows which server step its update will land in, nor its staleness. It holds the update
/// (secure_sessions::hold) under the fit's session (fit_ins::secure_session, which the
/// coordinator registered with the version's model; at most one hold a session) and ticket
/// (fit_ins::secure_ticket). Once the buffer is full the server commits the held fits to the
/// step's session (commit_stage): the member weights each by its own samples and its staleness
/// at the step's version, and masks the sum.
struct held_fit {
  std::uint64_t fit_session = 0;
  std::uint64_t ticket = 0;
};
/// A server step's commit: the version it folds into (each fit's staleness is that less the
/// version it was sent) and the aggregation point (as secure_session names it: phase 0 initial, 1
/// cluster; the cluster, -1 for none; the server's term), which the member checks against the
/// step's session and its fits' sessions, so that every member of one protocol run has the same
/// step version and the server cannot choose anyone's weight.
struct step_commit {
  std::uint64_t step_version = 0;
  std::uint32_t phase = 0;
  std::int64_t cluster = -1;
  std::uint32_t term = 0;
  std::vector<held_fit> fits;
};
/// secagg_msg's stage that commits held fits to a step's session (before the protocol's 0..3).
constexpr std::uint8_t commit_stage = 4;
/// A commit's bytes: 32 of header (four little-endian u64: step version, phase, cluster, term),
/// then 16 per fit. decode_commit throws fl::secagg::protocol_error on any other length, on no
/// fit or more than secure_sessions::max_holds, on a phase other than 0 or 1, a term beyond 32
/// bits, and a zero session or ticket.
std::vector<std::uint8_t> encode_commit(const step_commit& c);
step_commit decode_commit(const std::vector<std::uint8_t>& bytes);
/// The round context (fl::secagg::params) of a session: the protocol's keys and masks are bound
/// to it, and a member checks it against the session it was asked in, so one protocol run never
/// mixes members of different sessions.
std::array<std::uint8_t, 32> round_context_of(std::uint64_t session);
/// What a buffered step's session checks instead of a model hash (its members trained on
/// different versions, each checked against its registration before training): a digest of the
/// session number, so a member only answers the step it committed to.
fl::secagg::digest32 buffered_digest(std::uint64_t session);

/// One client's secure aggregation sessions. At most max_sessions are kept: a newer round
/// replaces the oldest (a round re-run after an election starts a new session, and the old
/// one will never finish). Memory: 8 bytes a weight per session until its input is masked.
class secure_sessions {
public:
  /// One: a member is in one round at a time, and a newer round (a re-run after an election)
  /// makes the older session useless; a session that never ran must not hold its 8 bytes a weight.
  static constexpr std::size_t max_sessions = 1;

  /// The fewest members a round's parameters may allow (privacy.min_cluster): a lower
  /// min_members from the aggregator is refused at step 0.
  /// `seed` and `async`: the run's (node_context), for buffered steps' sessions and weights.
  explicit secure_sessions(std::size_t min_members = fl::secagg::min_cluster,
                           std::optional<fl::secagg::key32> registrar = std::nullopt, std::uint64_t seed = 0,
                           fl::async_options async = {})
      : min_members_(min_members), registrar_(registrar), seed_(seed), async_(std::move(async)) {}

  /// Before a secure fit trains: `registration` must be the coordinator's signature of
  /// (session, model_digest(sent)) under the registrar key this client was given
  /// (fl/secagg/model_registry). Throws fl::secagg::protocol_error otherwise (no key, a missing
  /// or malformed signature, or a model other than the registered one: the model-inconsistency
  /// attack), and the member takes no part in the round.
  void check_model(std::uint64_t session, const std::vector<float>& sent,
                   const std::vector<std::uint8_t>& registration) const;

  /// After a secure fit: keeps fixed_terms(weight, trained) - fixed_terms(weight, sent), the
  /// member's update relative to the model it was sent on FedAvg's exact grid, and the sent
  /// model's digest. Returns the contribution's magnitude_bits. Throws std::invalid_argument
  /// when the sizes differ or a term is beyond the grid (a diverged update: |weight * w| >= 2^32).
  /// privacy.dp=distributed: with noise_stddev > 0 the member also adds its noise share
  /// (fl/privacy/dp_noise, `noise`'s stream) as its own addend, fixed_terms(1, share), so the
  /// unmasked sum equals the clear updates' sum plus every survivor's share on the same grid:
  /// what an aggregator adding those shares itself would get, bit for bit.
  /// privacy.adaptive_clip (`count.on`): one more value after the update (clip_count).
  std::uint8_t keep(std::uint64_t session, std::uint32_t member, std::uint64_t weight,
                    const std::vector<float>& sent, const std::vector<float>& trained, double noise_stddev = 0,
                    const fl::privacy::noise_key& noise = {}, clip_count count = {});

  /// Runs the session's `stage` (0..3, protocol order) on the aggregator's message and returns
  /// the answer's bytes. Throws fl::secagg::protocol_error or std::invalid_argument (hostile or
  /// out-of-order input, a session it never fitted, a model other than the one it trained on,
  /// a ring too small for its input); the session is dropped then and nothing is revealed: to
  /// the aggregator this member dropped out. After stage 3 the session is forgotten.
  std::vector<std::uint8_t> step(std::uint64_t session, std::uint8_t stage, const std::vector<std::uint8_t>& bytes);

  /// The most fits a member holds for buffered steps (the oldest goes first): a member sampled
  /// more often than this before its updates are committed drops out of the step. Memory: 4
  /// bytes a weight per held fit.
  static constexpr std::size_t max_holds = 8;

  /// After a buffered secure fit sent at model `version`: keeps trained - sent (floats, as the
  /// server would subtract them) and the fit's samples under fit_session (a newer fit of the same
  /// session replaces it: the same member, version and seed train to the same update). Throws
  /// std::invalid_argument when the sizes differ or a weight is not finite, and
  /// fl::secagg::protocol_error for a session already committed (its update entered a sum).
  void hold(std::uint64_t fit_session, std::uint64_t ticket, std::uint64_t version, std::uint64_t samples,
            const std::vector<float>& sent, const std::vector<float>& trained);
  /// The server's commit of held fits to a buffered step's `session`. Checks that the session
  /// is secure_session(seed, phase, cluster, step_version + 1, term) and each fit's session
  /// buffered_fit_session(seed, phase, cluster, its version) at or below step_version (and
  /// within async.max_staleness). Every named fit it holds is used up first, whatever follows. The member's input is
  /// the sum over them of fixed_terms(buffered_weight(samples, staleness_weight(step_version -
  /// version)), delta): its own weights, on the grid the clear FedBuff sums; the session checks
  /// buffered_digest(session). Returns the input's magnitude_bits. Throws
  /// fl::secagg::protocol_error for a fit it does not hold (never trained, replaced, named twice,
  /// evicted) or that does not belong to the step, and std::invalid_argument for a term beyond
  /// the grid (naming neither the index nor the value: the aggregator reads the reason).
  std::uint8_t commit(std::uint64_t session, std::uint32_t member, const step_commit& c);
  std::size_t holds() const { return holds_.size(); }

  std::size_t size() const { return sessions_.size(); }
  bool has(std::uint64_t session) const { return sessions_.count(session) > 0; }

private:
  struct entry {
    std::uint32_t member = 0;
    std::uint64_t order = 0;           ///< when it was kept (the oldest goes first)
    std::vector<std::int64_t> input;   ///< until stage 0 turns it into the ring
    fl::secagg::digest32 model_hash{}; ///< of the model this member trained from
    std::unique_ptr<fl::secagg::secagg_client> machine;
  };
  std::vector<std::uint8_t> run(std::uint64_t session, entry& s, std::uint8_t stage,
                                const std::vector<std::uint8_t>& bytes);
  void open(std::uint64_t session, entry s);

  struct held {
    std::uint64_t order = 0;
    std::uint64_t ticket = 0;
    std::uint64_t version = 0;
    std::uint64_t samples = 0;
    std::vector<float> delta;
  };
  std::map<std::uint64_t, held> holds_; ///< by fit session
  void spend(std::uint64_t fit_session);
  /// Fit sessions already committed (the newest max_spent): not held again.
  static constexpr std::size_t max_spent = 4096;
  std::set<std::uint64_t> spent_;
  std::vector<std::uint64_t> spent_order_; // oldest first

  std::map<std::uint64_t, entry> sessions_;
  std::size_t min_members_;
  std::optional<fl::secagg::key32> registrar_;
  std::uint64_t seed_ = 0;
  fl::async_options async_;
  std::uint64_t next_ = 0;
};

} // namespace flotilla::actors
