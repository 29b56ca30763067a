#pragma once
// A member's side of secure aggregation (privacy.secure_aggregation), as the client actor keeps
// it: after a secure fit the member holds its update as the integers it will mask, then answers
// the round's protocol steps (fl/secagg/protocol.hpp) one at a time. Plain state, no actors, so
// it is tested without them; the client actor only forwards fit results and secagg_msg steps.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

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
/// knows which server step its update will land in, nor its staleness weight. It holds the
/// update (secure_sessions::hold) under the fit's session (fit_ins::secure_session, which the
/// coordinator registered with the version's model) and ticket (fit_ins::secure_ticket, unique
/// in the engine that sent it); once the buffer is full the server names each held fit with its
/// weight (commit_stage), and the member masks the sum of its weighted updates in the step's
/// session.
struct held_fit {
  std::uint64_t fit_session = 0;
  std::uint64_t ticket = 0;
  std::uint64_t weight = 0; ///< fl::buffered_weight: samples times staleness weight, in 1/1024 samples
};
/// secagg_msg's stage that commits held fits to a step's session (before the protocol's 0..3).
constexpr std::uint8_t commit_stage = 4;
/// A commit's bytes: 24 per fit (three little-endian u64). decode_held throws
/// fl::secagg::protocol_error on any other length, on no fit or more than
/// secure_sessions::max_holds, and on a zero session, ticket or weight.
std::vector<std::uint8_t> encode_held(const std::vector<held_fit>& fits);
std::vector<held_fit> decode_held(const std::vector<std::uint8_t>& bytes);
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
  explicit secure_sessions(std::size_t min_members = fl::secagg::min_cluster,
                           std::optional<fl::secagg::key32> registrar = std::nullopt)
      : min_members_(min_members), registrar_(registrar) {}

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
  /// when the sizes differ or a term is beyond the grid (a diverged update: |weight * w| >= 2^22).
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

  /// After a buffered secure fit: keeps trained - sent (floats, as the server would subtract
  /// them) under (fit_session, ticket). Throws std::invalid_argument when the sizes differ or a
  /// weight is not finite.
  void hold(std::uint64_t fit_session, std::uint64_t ticket, const std::vector<float>& sent,
            const std::vector<float>& trained);
  /// The server's commit of held fits to a buffered step's `session`: the member's input is the
  /// sum over `fits` of fixed_terms(weight, its delta), on the grid the clear FedBuff sums, and
  /// the session checks buffered_digest(session). Each named fit is used once and forgotten.
  /// Returns the input's magnitude_bits. Throws fl::secagg::protocol_error for a fit it does not
  /// hold (never trained, evicted, named twice) and std::invalid_argument for a term beyond the
  /// grid; nothing is kept then.
  std::uint8_t commit(std::uint64_t session, std::uint32_t member, const std::vector<held_fit>& fits);
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
  std::vector<std::uint8_t> run(entry& s, std::uint8_t stage, const std::vector<std::uint8_t>& bytes);
  void open(std::uint64_t session, entry s);

  struct held {
    std::uint64_t order = 0;
    std::vector<float> delta;
  };
  std::map<std::pair<std::uint64_t, std::uint64_t>, held> holds_;

  std::map<std::uint64_t, entry> sessions_;
  std::size_t min_members_;
  std::optional<fl::secagg::key32> registrar_;
  std::uint64_t next_ = 0;
};

} // namespace flotilla::actors
