#pragma once
// Secure aggregation (Bonawitz et al., CCS 2017) with SecAgg+'s sparse share groups (Bell et al.,
// CCS 2020), as two state machines on plain values: a member (secagg_client) and the aggregator
// (secagg_server, the promoted cluster server). Transport, timeouts and actors are the caller's;
// every message is a struct with to_bytes/from_bytes, and every decoded byte is treated as hostile.
//
//   member                                  aggregator
//   advertise(model hash) -- advertise_keys -->  receive ... close_advertise   (U1: >= t)
//   share(key_list)       <-- key_list ------
//                         -- share_keys ----->  receive ... close_share_keys  (U2: >= t)
//   mask(routed_shares)   <-- routed_shares -
//                         -- masked_input --->  receive ... close_masked_input (U3: >= t)
//   unmask(request)       <-- unmask_request -
//                         -- unmask_response ->  receive ... finish -> sum over U3 in Z_{2^b}
//
// y_u = x_u + PRG(b_u) + sum_{v in G(u) n U2, v > u} PRG(s_uv) - sum_{v in G(u) n U2, v < u} PRG(s_uv)
// (mod 2^b), where G(u) is u's share group: every advertised member (SecAgg), or the `neighbours`
// members around u on a ring shuffled by the round context (SecAgg+, Flower's construction).
// Shares of b_u and s_sk_u go to G(u) including u itself, t of them rebuild a secret.
//
// Threat model and threshold. The aggregator is counted as corrupted: it knows its own update
// (so it is not a member here; the caller adds it in the clear) and sees every message. It holds
// no shares. t = floor(g/2) + 1 for a group of g, and a member refuses to reveal both secrets of
// one member or to answer when fewer than t of its group survive, so the aggregator together with
// fewer than t colluding members never holds t shares of both b_u and s_sk_u: it learns sums over
// at least t members only. Below min_cluster (3) members besides the aggregator, a sum would be
// one member's input in disguise, so the round is refused. The aggregator is honest-but-curious:
// Bonawitz's consistency-check round (signatures over U3, needed with t > 2g/3 against an
// aggregator that lies differently to different members) is not implemented.
#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "fl/secagg/prg.hpp"
#include "fl/secagg/shamir.hpp"
#include "fl/secagg/x25519.hpp"

namespace flotilla::fl::secagg {

/// A message or a request that the protocol must refuse; the message says what and what to do.
class protocol_error : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};
/// Too few members are left to finish the round securely; the caller re-runs the round.
class round_aborted : public protocol_error {
public:
  using protocol_error::protocol_error;
};

using digest32 = key32; ///< a SHA-256 digest

constexpr std::size_t min_cluster = 3;   ///< members besides the aggregator, at least (default)
/// The fewest members a sum can hide one of from the aggregator alone (privacy.min_cluster's
/// floor): with 2, the aggregator colluding with one member learns the other's input.
constexpr std::size_t min_cluster_floor = 2;
constexpr std::size_t max_members = max_shamir_holders;

/// floor(g/2) + 1: a majority of a share group of g members.
std::size_t default_threshold(std::size_t group);

struct params {
  std::vector<std::uint32_t> members; ///< sampled for the round, the aggregator excluded
  std::size_t threshold = 0;          ///< t; 0: default_threshold(share group size)
  unsigned bits = 0;                  ///< inputs and sums live in Z_{2^bits} (see bits_for_sum)
  std::size_t length = 0;             ///< values per input
  std::size_t neighbours = 0;         ///< SecAgg+ share group size (odd, counts the member); 0: all
  key32 round_context{};              ///< binds keys, masks and the ring shuffle to one round
  digest32 model_hash{};              ///< SHA-256 of the round's model, as the coordinator registered it
  std::size_t min_members = min_cluster; ///< privacy.min_cluster: members besides the aggregator, at least
};

/// Checks `p` and fills in its threshold when 0. Throws protocol_error when the cluster is below
/// min_cluster, the ids repeat, bits are outside 1..64, the group is even or too small, or t is
/// not a majority of the share group (1 + floor(g/2) .. g).
params checked(params p);

/// Throws protocol_error unless the model a member was sent hashes to what the coordinator
/// registered: masking a different model's update would poison the sum.
void check_model_hash(const digest32& registered, const digest32& received);

/// The share group of `member` among `roster` (sorted): everyone when neighbours is 0 or not
/// smaller than the roster, else the neighbours / 2 members either side of it on the ring that a
/// shuffle seeded by `round_context` makes of the roster. Sorted, includes `member`.
std::vector<std::uint32_t> share_group(const std::vector<std::uint32_t>& roster,
                                       std::uint32_t member, std::size_t neighbours,
                                       const key32& round_context);

/// The longest input a round may sum (the largest model a weight blob carries).
constexpr std::size_t max_length = std::size_t{1} << 28;

// ---- messages --------------------------------------------------------------------------------
// Wire: "SA", version 1, a kind byte, then fields little-endian; lists are a u32 count (bounded by
// max_members and by the bytes left, before anything is allocated) and id lists strictly increase.
// from_bytes throws protocol_error naming the message and what was wrong.

/// Before round 0, aggregator -> each member: the round's parameters (the member checks them
/// with checked() and against the model it was sent).
struct round_setup {
  params p;
  std::vector<std::uint8_t> to_bytes() const;
  static round_setup from_bytes(const std::vector<std::uint8_t>& bytes);
};

/// Round 0, member -> aggregator; the key_list entry too.
struct advertise_keys {
  std::uint32_t member = 0;
  key32 c_pk{};       ///< share channel key
  key32 s_pk{};       ///< pairwise mask key
  digest32 model_hash{}; ///< SHA-256 of the model this member was sent
  std::vector<std::uint8_t> to_bytes() const;
  static advertise_keys from_bytes(const std::vector<std::uint8_t>& bytes);
};

/// Round 0, aggregator -> members: U1 with keys, by increasing id.
struct key_list {
  std::vector<advertise_keys> members;
  std::vector<std::uint8_t> to_bytes() const;
  static key_list from_bytes(const std::vector<std::uint8_t>& bytes);
};

/// Plaintext under seal: from, to, share of s_sk_from, share of b_from.
constexpr std::size_t share_plaintext_bytes = 8 + 2 * shamir_share_bytes;
constexpr std::size_t sealed_share_bytes = share_plaintext_bytes + seal_overhead;

/// One member's shares for another, sealed for it (the aggregator only routes it).
struct encrypted_share {
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  std::vector<std::uint8_t> sealed; ///< sealed_share_bytes
};

/// Round 1, member -> aggregator: one sealed share per other member of its group.
struct share_keys {
  std::uint32_t member = 0;
  std::vector<encrypted_share> shares;
  std::vector<std::uint8_t> to_bytes() const;
  static share_keys from_bytes(const std::vector<std::uint8_t>& bytes);
};

/// Round 1, aggregator -> member: the sealed shares addressed to it, from the members of U2.
struct routed_shares {
  std::uint32_t member = 0;
  std::vector<encrypted_share> shares;
  std::vector<std::uint8_t> to_bytes() const;
  static routed_shares from_bytes(const std::vector<std::uint8_t>& bytes);
};

/// Round 2, member -> aggregator: y_u packed at `bits` bits a value.
struct masked_input {
  std::uint32_t member = 0;
  std::uint8_t bits = 0;
  std::uint64_t length = 0;
  std::vector<std::uint8_t> packed; ///< packed_bytes(length, bits)
  std::vector<std::uint8_t> to_bytes() const;
  static masked_input from_bytes(const std::vector<std::uint8_t>& bytes);
};

/// Round 3, aggregator -> members: U3 (inputs in the sum) and U2 \ U3 (masked nothing).
struct unmask_request {
  std::vector<std::uint32_t> survivors;
  std::vector<std::uint32_t> dropped;
  std::vector<std::uint8_t> to_bytes() const;
  static unmask_request from_bytes(const std::vector<std::uint8_t>& bytes);
};

/// A share a member reveals: of whose secret, and its 40 bytes (the point is the sender's).
struct revealed_share {
  std::uint32_t owner = 0;
  std::array<std::uint8_t, shamir_share_bytes> share{};
};

/// Round 3, member -> aggregator: b shares of surviving, s_sk shares of dropped group members.
struct unmask_response {
  std::uint32_t member = 0;
  std::vector<revealed_share> b_shares;
  std::vector<revealed_share> s_shares;
  std::vector<std::uint8_t> to_bytes() const;
  static unmask_response from_bytes(const std::vector<std::uint8_t>& bytes);
};

// ---- the member ------------------------------------------------------------------------------

/// One member's side of one round. Each step runs once, in order; a step that throws leaves the
/// member failed (it sends nothing more: to the aggregator it has dropped out). Steps throw
/// protocol_error, or std::invalid_argument from the crypto layer (a share that fails
/// authentication, a low-order key). Memory: the input (8 bytes a value) until it is masked.
class secagg_client {
public:
  enum class stage { advertise, share, mask, unmask, done, failed };

  /// `input` is x_u in Z_{2^bits} (to_ring of its fixed-point sums), params.length values.
  /// `random` is os_random() in real runs. Throws protocol_error on bad params or input.
  secagg_client(params p, std::uint32_t member, std::vector<std::uint64_t> input,
                random_source random);

  /// Round 0: fresh c and s key pairs. Throws protocol_error when `received_model_hash` is not
  /// the registered one.
  advertise_keys advertise(const digest32& received_model_hash);
  /// Round 1: checks U1 (this member's keys in it, >= t, distinct keys, registered model),
  /// draws b_u, shares b_u and s_sk_u over its group and seals each pair's shares.
  share_keys share(const key_list& roster);
  /// Round 2: opens the shares it was routed (U2 as it sees it) and masks its input.
  masked_input mask(const routed_shares& shares);
  /// Round 3: reveals b shares of listed survivors and s_sk shares of listed dropouts in its
  /// group. Refuses (protocol_error, nothing revealed) a member listed both ways, fewer than t
  /// survivors in its group, itself listed as dropped, or a listing that contradicts round 1.
  unmask_response unmask(const unmask_request& request);

  stage current() const { return stage_; }
  std::uint32_t member() const { return member_; }

private:
  void require_stage(stage s, const char* step);

  params p_;
  std::uint32_t member_;
  std::vector<std::uint64_t> input_;
  random_source random_;
  stage stage_ = stage::advertise;
  keypair c_, s_;
  key32 b_{};                                    ///< the self-mask seed
  std::vector<std::uint32_t> group_;             ///< G(u), sorted, includes u
  std::map<std::uint32_t, advertise_keys> keys_; ///< of G(u)
  std::map<std::uint32_t, shamir_share> held_b_, held_s_; ///< shares held, by owner (U2 n G(u))
};

// ---- the aggregator --------------------------------------------------------------------------

/// The aggregator's side of one round. receive() rejects a bad message with protocol_error and
/// changes nothing (that member is then treated as dropped); close_*() end a stage with whoever
/// arrived, and throw round_aborted when fewer than t remain, overall or in some share group.
/// Memory: one running sum (8 bytes a value) and the routed ciphertexts (112 bytes a pair).
class secagg_server {
public:
  /// Throws protocol_error on bad params (see checked()).
  explicit secagg_server(params p);

  void receive(const advertise_keys& m);
  key_list close_advertise();
  void receive(const share_keys& m);
  /// The routed_shares of every member of U2, by member.
  std::map<std::uint32_t, routed_shares> close_share_keys();
  /// Adds y_u into the running sum (no member's y is kept).
  void receive(const masked_input& m);
  unmask_request close_masked_input();
  void receive(const unmask_response& m);
  /// Rebuilds b_u of U3 and s_sk_v of U2 \ U3, removes their masks and returns the sum of the
  /// inputs of U3 in Z_{2^bits}. Throws round_aborted when some secret has fewer than t shares,
  /// protocol_error when shares disagree or a rebuilt s_sk does not match its public key.
  std::vector<std::uint64_t> finish();

  const std::vector<std::uint32_t>& survivors() const { return u3_; }
  const std::vector<std::uint32_t>& dropped() const { return dropped_; }

private:
  enum class stage { advertise, share, mask, unmask, done };
  void require_stage(stage s, const char* step) const;
  void check_groups(const std::vector<std::uint32_t>& alive, const char* step) const;

  params p_;
  stage stage_ = stage::advertise;
  std::map<std::uint32_t, advertise_keys> u1_;
  std::map<std::uint32_t, std::vector<std::uint32_t>> groups_; ///< G(u) for u in U1
  std::map<std::uint32_t, std::vector<encrypted_share>> u2_;  ///< by sender
  std::vector<std::uint32_t> u3_, dropped_;
  std::set<std::uint32_t> masked_, answered_;
  std::vector<std::uint64_t> sum_;
  std::map<std::uint32_t, std::vector<shamir_share>> b_shares_, s_shares_; ///< by owner
};

} // namespace flotilla::fl::secagg
