// The aggregator's side of a round: secagg_server.
#include "fl/secagg/protocol.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

#include "fl/secagg/protocol_detail.hpp"

namespace flotilla::fl::secagg {

using detail::all_groups;
using detail::contains;
using detail::hex;
using detail::ids;
using detail::intersect;
using detail::list;
using detail::point;
using detail::str;

// ---- the aggregator ----

secagg_server::secagg_server(params p) : p_(checked(std::move(p))) {}

void secagg_server::require_stage(stage s, const char* step) const {
  if (stage_ != s)
    throw protocol_error(std::string("secagg: the aggregator cannot ") + step +
                         " now: the round's stages run once, in order");
}

void secagg_server::check_groups(const ids& alive, const char* step) const {
  for (const auto& [u, group] : groups_) {
    if (!u2_.empty() && !u2_.count(u))
      continue; // only members whose shares are out need holders
    const std::size_t left = intersect(group, alive).size();
    if (left < p_.threshold)
      throw round_aborted(std::string("secagg: round aborted at ") + step + ": " + str(left) +
                          " of member " + str(u) + "'s share group " + list(group) +
                          " remain, fewer than t = " + str(p_.threshold) + "; re-run the round");
  }
}

void secagg_server::receive(const advertise_keys& m) {
  require_stage(stage::advertise, "take advertised keys");
  if (!contains(p_.members, m.member))
    throw protocol_error("secagg: member " + str(m.member) + " advertised keys but is not sampled "
                         "for this round; ignored");
  if (u1_.count(m.member))
    throw protocol_error("secagg: member " + str(m.member) + " advertised keys twice; ignored");
  if (m.model_hash != p_.model_hash)
    throw protocol_error("secagg: member " + str(m.member) + " holds a model with SHA-256 " +
                         hex(m.model_hash) + ", not the registered " + hex(p_.model_hash) +
                         "; it is left out of the round");
  for (const auto& [v, a] : u1_)
    if (a.c_pk == m.c_pk || a.s_pk == m.s_pk || a.c_pk == m.s_pk || a.s_pk == m.c_pk)
      throw protocol_error("secagg: member " + str(m.member) + " advertised a public key member " +
                           str(v) + " already uses; it is left out of the round");
  if (m.c_pk == m.s_pk)
    throw protocol_error("secagg: member " + str(m.member) + " advertised the same key twice; "
                         "it is left out of the round");
  // A low-order point would make every agreement with it fail (RFC 7748 section 6.1): refuse it
  // here rather than let one member break its whole share group.
  static const key32 probe = [] { key32 k; k.fill(0x5a); return k; }();
  try {
    (void)agree(probe, m.c_pk);
    (void)agree(probe, m.s_pk);
  } catch (const std::invalid_argument&) {
    throw protocol_error("secagg: member " + str(m.member) + " advertised a low-order public "
                         "key; it is left out of the round");
  }
  u1_[m.member] = m;
}

key_list secagg_server::close_advertise() {
  require_stage(stage::advertise, "close the advertise stage");
  if (u1_.size() < p_.threshold)
    throw round_aborted("secagg: round aborted at advertise keys: " + str(u1_.size()) + " of " +
                        str(p_.members.size()) + " members advertised keys, fewer than t = " +
                        str(p_.threshold) + "; re-run the round");
  key_list out;
  ids roster;
  for (const auto& [u, a] : u1_) {
    out.members.push_back(a);
    roster.push_back(u);
  }
  groups_ = all_groups(roster, p_.neighbours, p_.round_context);
  stage_ = stage::share;
  return out;
}

void secagg_server::receive(const share_keys& m) {
  require_stage(stage::share, "take shares");
  if (!u1_.count(m.member))
    throw protocol_error("secagg: member " + str(m.member) + " sent shares but did not advertise "
                         "keys; ignored");
  if (u2_.count(m.member))
    throw protocol_error("secagg: member " + str(m.member) + " sent shares twice; ignored");
  ids expected = groups_.at(m.member), got;
  expected.erase(std::find(expected.begin(), expected.end(), m.member));
  for (const encrypted_share& e : m.shares) {
    if (e.from != m.member || e.sealed.size() != sealed_share_bytes)
      throw protocol_error("secagg: member " + str(m.member) + " sent a malformed share; ignored");
    got.push_back(e.to);
  }
  std::sort(got.begin(), got.end());
  if (got != expected)
    throw protocol_error("secagg: member " + str(m.member) + " sent shares for " + list(got) +
                         ", its share group needs exactly " + list(expected) + "; ignored");
  u2_[m.member] = m.shares;
}

std::map<std::uint32_t, routed_shares> secagg_server::close_share_keys() {
  require_stage(stage::share, "close the share stage");
  ids u2;
  for (const auto& [u, shares] : u2_)
    u2.push_back(u);
  if (u2.size() < p_.threshold)
    throw round_aborted("secagg: round aborted at share keys: " + str(u2.size()) +
                        " members sent shares, fewer than t = " + str(p_.threshold) +
                        "; re-run the round");
  check_groups(u2, "share keys");
  std::map<std::uint32_t, routed_shares> out;
  for (std::uint32_t v : u2)
    out[v].member = v;
  for (const auto& [u, shares] : u2_)
    for (const encrypted_share& e : shares)
      if (u2_.count(e.to))
        out[e.to].shares.push_back(e);
  sum_.assign(p_.length, 0);
  stage_ = stage::mask;
  return out;
}

void secagg_server::receive(const masked_input& m) {
  require_stage(stage::mask, "take masked inputs");
  if (!u2_.count(m.member))
    throw protocol_error("secagg: member " + str(m.member) + " sent a masked input without "
                         "shares in round 1; ignored");
  if (masked_.count(m.member))
    throw protocol_error("secagg: member " + str(m.member) + " sent its masked input twice; ignored");
  if (m.bits != p_.bits || m.length != p_.length)
    throw protocol_error("secagg: member " + str(m.member) + " sent " + str(m.length) +
                         " values of " + str(m.bits) + " bits, the round sums " + str(p_.length) +
                         " values of " + str(p_.bits) + " bits; ignored");
  const std::vector<std::uint64_t> y = unpack(m.packed.data(), m.packed.size(), p_.length, p_.bits);
  const std::uint64_t mask = ring_mask(p_.bits);
  for (std::size_t i = 0; i < y.size(); ++i)
    sum_[i] = (sum_[i] + y[i]) & mask;
  masked_.insert(m.member);
}

unmask_request secagg_server::close_masked_input() {
  require_stage(stage::mask, "close the masked input stage");
  u3_.assign(masked_.begin(), masked_.end());
  dropped_.clear();
  for (const auto& [u, shares] : u2_)
    if (!masked_.count(u))
      dropped_.push_back(u);
  if (u3_.size() < p_.threshold)
    throw round_aborted("secagg: round aborted at masked input: " + str(u3_.size()) +
                        " members sent masked inputs, fewer than t = " + str(p_.threshold) +
                        "; re-run the round");
  check_groups(u3_, "masked input");
  stage_ = stage::unmask;
  return {u3_, dropped_};
}

void secagg_server::receive(const unmask_response& m) {
  require_stage(stage::unmask, "take unmasking shares");
  if (!masked_.count(m.member))
    throw protocol_error("secagg: member " + str(m.member) + " sent unmasking shares but is not a "
                         "survivor; ignored");
  if (answered_.count(m.member))
    throw protocol_error("secagg: member " + str(m.member) + " sent unmasking shares twice; ignored");
  const ids& group = groups_.at(m.member);
  const auto owners = [](const std::vector<revealed_share>& v) {
    ids o;
    for (const revealed_share& s : v)
      o.push_back(s.owner);
    return o;
  };
  if (owners(m.b_shares) != intersect(group, u3_) || owners(m.s_shares) != intersect(group, dropped_))
    throw protocol_error("secagg: member " + str(m.member) + " revealed shares of other members "
                         "than its surviving and dropped group members; ignored");
  std::vector<shamir_share> b, s;
  for (const revealed_share& r : m.b_shares)
    b.push_back(decode_share(point(m.member), r.share.data()));
  for (const revealed_share& r : m.s_shares)
    s.push_back(decode_share(point(m.member), r.share.data()));
  for (std::size_t i = 0; i < b.size(); ++i)
    b_shares_[m.b_shares[i].owner].push_back(b[i]);
  for (std::size_t i = 0; i < s.size(); ++i)
    s_shares_[m.s_shares[i].owner].push_back(s[i]);
  answered_.insert(m.member);
}

std::vector<std::uint64_t> secagg_server::finish() {
  require_stage(stage::unmask, "finish");
  const auto rebuild = [&](std::map<std::uint32_t, std::vector<shamir_share>>& from,
                           std::uint32_t owner, const char* what) {
    const std::vector<shamir_share>& shares = from[owner];
    if (shares.size() < p_.threshold)
      throw round_aborted("secagg: round aborted at unmasking: " + str(shares.size()) +
                          " shares of member " + str(owner) + "'s " + what + " arrived, fewer "
                          "than t = " + str(p_.threshold) + "; re-run the round");
    try {
      return shamir_combine(shares, p_.threshold);
    } catch (const std::invalid_argument& e) {
      throw protocol_error("secagg: member " + str(owner) + "'s " + what + " cannot be rebuilt: " +
                           e.what());
    }
  };
  for (std::uint32_t u : u3_)
    apply_mask(sum_, rebuild(b_shares_, u, "self-mask"), p_.bits, /*subtract=*/true);
  for (std::uint32_t v : dropped_) {
    const key32 s_sk = rebuild(s_shares_, v, "mask key");
    if (public_key_of(s_sk) != u1_.at(v).s_pk)
      throw protocol_error("secagg: member " + str(v) + "'s rebuilt mask key does not match the "
                           "public key it advertised: a share was tampered with");
    for (std::uint32_t u : intersect(groups_.at(v), u3_)) {
      // y_u holds +PRG(s_uv) when u < v, -PRG(s_uv) when u > v: take it back out.
      const key32 seed = derive_mask_seed(agree(s_sk, u1_.at(u).s_pk), p_.round_context);
      apply_mask(sum_, seed, p_.bits, /*subtract=*/u < v);
    }
  }
  stage_ = stage::done;
  return std::move(sum_);
}

} // namespace flotilla::fl::secagg
