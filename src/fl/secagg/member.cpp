// The member's side of a round: secagg_client.
#include "fl/secagg/protocol.hpp"

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <utility>

#include "fl/secagg/protocol_detail.hpp"

namespace flotilla::fl::secagg {

using detail::bytes;
using detail::contains;
using detail::ids;
using detail::intersect;
using detail::point;
using detail::str;

namespace {

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}

} // namespace

// ---- the member ----

secagg_client::secagg_client(params p, std::uint32_t member, std::vector<std::uint64_t> input,
                             random_source random)
    : p_(checked(std::move(p))), member_(member), input_(std::move(input)),
      random_(std::move(random)) {
  if (!contains(p_.members, member_))
    throw protocol_error("secagg: member " + str(member_) + " is not sampled for this round");
  if (input_.size() != p_.length)
    throw protocol_error("secagg: the input has " + str(input_.size()) + " values, the round " +
                         "sums " + str(p_.length));
  const std::uint64_t mask = ring_mask(p_.bits);
  for (std::size_t i = 0; i < input_.size(); ++i)
    if ((input_[i] & ~mask) != 0)
      throw protocol_error("secagg: input value " + str(i) + " is not in Z_2^" + str(p_.bits) +
                           "; convert the sums with to_ring first");
}

void secagg_client::require_stage(stage s, const char* step) {
  if (stage_ != s) {
    const bool failed = stage_ == stage::failed;
    stage_ = stage::failed;
    throw protocol_error(std::string("secagg: member ") + str(member_) + " cannot " + step +
                         (failed ? " after it failed" : " now: its steps run once, in order"));
  }
}

advertise_keys secagg_client::advertise(const digest32& received_model_hash) {
  require_stage(stage::advertise, "advertise keys");
  try {
    check_model_hash(p_.model_hash, received_model_hash);
    c_ = generate_keypair(random_);
    s_ = generate_keypair(random_);
  } catch (...) {
    stage_ = stage::failed;
    throw;
  }
  stage_ = stage::share;
  return {member_, c_.public_key, s_.public_key, received_model_hash};
}

share_keys secagg_client::share(const key_list& roster) {
  require_stage(stage::share, "share keys");
  try {
    ids u1;
    std::set<key32> seen;
    bool self = false;
    for (const advertise_keys& a : roster.members) {
      if (!u1.empty() && a.member <= u1.back())
        throw protocol_error("secagg: the key list is out of order or repeats member " + str(a.member));
      if (!contains(p_.members, a.member))
        throw protocol_error("secagg: the key list holds member " + str(a.member) +
                             ", which is not sampled for this round");
      if (a.model_hash != p_.model_hash)
        throw protocol_error("secagg: member " + str(a.member) + " was sent another model than "
                             "the registered one; refusing the round");
      if (!seen.insert(a.c_pk).second || !seen.insert(a.s_pk).second)
        throw protocol_error("secagg: the key list repeats a public key (member " + str(a.member) +
                             "); refusing the round");
      if (a.member == member_) {
        if (a.c_pk != c_.public_key || a.s_pk != s_.public_key)
          throw protocol_error("secagg: the key list holds other keys for this member than it "
                               "advertised; refusing the round");
        self = true;
      }
      u1.push_back(a.member);
    }
    if (!self)
      throw protocol_error("secagg: the key list leaves this member out; it cannot take part");
    group_ = share_group(u1, member_, p_.neighbours, p_.round_context);
    if (group_.size() < p_.threshold)
      throw round_aborted("secagg: only " + str(group_.size()) + " members of this member's share "
                          "group advertised keys, fewer than t = " + str(p_.threshold));
    for (const advertise_keys& a : roster.members)
      if (contains(group_, a.member))
        keys_[a.member] = a;

    random_(b_.data(), b_.size());
    std::vector<std::uint64_t> xs;
    for (std::uint32_t v : group_)
      xs.push_back(point(v));
    const auto sb = shamir_split(b_, p_.threshold, xs, random_);
    const auto ss = shamir_split(s_.secret_key, p_.threshold, xs, random_);
    share_keys out{member_, {}};
    for (std::size_t i = 0; i < group_.size(); ++i) {
      const std::uint32_t v = group_[i];
      if (v == member_) { // its own shares stay here: it reveals b_u's if it survives
        held_b_[v] = sb[i];
        held_s_[v] = ss[i];
        continue;
      }
      bytes plain;
      put_u32(plain, member_);
      put_u32(plain, v);
      const auto s_share = encode_share(ss[i]), b_share = encode_share(sb[i]);
      plain.insert(plain.end(), s_share.begin(), s_share.end());
      plain.insert(plain.end(), b_share.begin(), b_share.end());
      const key32 key = derive_share_key(agree(c_.secret_key, keys_.at(v).c_pk), p_.round_context);
      out.shares.push_back({member_, v, seal(key, member_, v, p_.round_context, plain)});
    }
    stage_ = stage::mask;
    return out;
  } catch (...) {
    stage_ = stage::failed;
    throw;
  }
}

masked_input secagg_client::mask(const routed_shares& routed) {
  require_stage(stage::mask, "mask its input");
  try {
    if (routed.member != member_)
      throw protocol_error("secagg: shares routed to member " + str(routed.member) +
                           " reached member " + str(member_));
    // Opens everything before keeping anything: a bad share leaves no half-filled state.
    std::map<std::uint32_t, shamir_share> got_b, got_s;
    for (const encrypted_share& e : routed.shares) {
      if (e.to != member_ || e.from == member_ || !contains(group_, e.from))
        throw protocol_error("secagg: a routed share from member " + str(e.from) + " to " +
                             str(e.to) + " does not belong to this member's share group");
      if (got_b.count(e.from))
        throw protocol_error("secagg: member " + str(e.from) + "'s shares were routed twice");
      const key32 key =
          derive_share_key(agree(c_.secret_key, keys_.at(e.from).c_pk), p_.round_context);
      const bytes plain = open(key, e.from, member_, p_.round_context, e.sealed);
      if (plain.size() != share_plaintext_bytes)
        throw protocol_error("secagg: a share from member " + str(e.from) + " has the wrong size");
      if (get_u32(plain.data()) != e.from || get_u32(plain.data() + 4) != member_)
        throw protocol_error("secagg: a share sealed by member " + str(e.from) +
                             " names another sender or recipient inside");
      got_s[e.from] = decode_share(point(member_), plain.data() + 8);
      got_b[e.from] = decode_share(point(member_), plain.data() + 8 + shamir_share_bytes);
    }
    held_b_.insert(got_b.begin(), got_b.end());
    held_s_.insert(got_s.begin(), got_s.end());
    if (held_b_.size() < p_.threshold)
      throw round_aborted("secagg: only " + str(held_b_.size()) + " members of this member's "
                          "share group shared keys, fewer than t = " + str(p_.threshold));

    std::vector<std::uint64_t> y = std::move(input_);
    input_ = {};
    apply_mask(y, b_, p_.bits, /*subtract=*/false);
    for (const auto& [v, share] : held_b_) {
      (void)share;
      if (v == member_)
        continue;
      const key32 seed = derive_mask_seed(agree(s_.secret_key, keys_.at(v).s_pk), p_.round_context);
      apply_mask(y, seed, p_.bits, /*subtract=*/v < member_);
    }
    stage_ = stage::unmask;
    return {member_, static_cast<std::uint8_t>(p_.bits), p_.length, pack(y, p_.bits)};
  } catch (...) {
    stage_ = stage::failed;
    throw;
  }
}

unmask_response secagg_client::unmask(const unmask_request& request) {
  require_stage(stage::unmask, "unmask");
  try {
    const auto increasing = [](const ids& v) {
      return std::adjacent_find(v.begin(), v.end(), std::greater_equal<>()) == v.end();
    };
    if (!increasing(request.survivors) || !increasing(request.dropped))
      throw protocol_error("secagg: refusing to unmask: the request's member lists are not "
                           "strictly increasing");
    const ids both = intersect(request.survivors, request.dropped);
    if (!both.empty())
      throw protocol_error("secagg: refusing to unmask: the aggregator asked for both the "
                           "self-mask and the mask key of member " + str(both.front()) +
                           " (listed as surviving and as dropped); answering would reveal its input");
    if (!contains(request.survivors, member_))
      throw protocol_error("secagg: refusing to unmask: the aggregator does not list this member (" +
                           str(member_) + ") among the survivors it asks");
    const ids alive = intersect(group_, request.survivors);
    if (alive.size() < p_.threshold)
      throw protocol_error("secagg: refusing to unmask: " + str(alive.size()) + " of this member's "
                           "share group survive, fewer than t = " + str(p_.threshold) +
                           "; so few survivors could expose one member's input");
    unmask_response out{member_, {}, {}};
    for (std::uint32_t v : alive) {
      if (!held_b_.count(v))
        throw protocol_error("secagg: refusing to unmask: member " + str(v) + " is listed as "
                             "surviving but never sent this member its shares");
      out.b_shares.push_back({v, encode_share(held_b_.at(v))});
    }
    for (std::uint32_t v : intersect(group_, request.dropped)) {
      if (!held_s_.count(v))
        throw protocol_error("secagg: refusing to unmask: member " + str(v) + " is listed as "
                             "dropped but never sent this member its shares");
      out.s_shares.push_back({v, encode_share(held_s_.at(v))});
    }
    stage_ = stage::done;
    return out;
  } catch (...) {
    stage_ = stage::failed;
    throw;
  }
}

} // namespace flotilla::fl::secagg
