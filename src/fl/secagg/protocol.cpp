#include "fl/secagg/protocol.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace flotilla::fl::secagg {
namespace {

using bytes = std::vector<std::uint8_t>;
using ids = std::vector<std::uint32_t>;

std::string str(std::size_t v) { return std::to_string(v); }

std::string hex(const key32& k) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (std::uint8_t b : k) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

std::string list(const ids& v) {
  std::string s;
  for (std::uint32_t id : v)
    s += (s.empty() ? "" : ", ") + std::to_string(id);
  return "{" + s + "}";
}

bool contains(const ids& sorted, std::uint32_t id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

ids intersect(const ids& a, const ids& b) {
  ids out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::uint64_t point(std::uint32_t member) { return std::uint64_t{member} + 1; }

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}

// ---- wire ----
enum kind : std::uint8_t {
  kind_advertise = 1, kind_key_list, kind_share_keys, kind_routed_shares,
  kind_masked_input, kind_unmask_request, kind_unmask_response
};

class writer {
public:
  explicit writer(kind k) : out_{'S', 'A', 1, k} {}
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
      out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i)
      out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void raw(const std::uint8_t* p, std::size_t n) { out_.insert(out_.end(), p, p + n); }
  template <std::size_t N> void raw(const std::array<std::uint8_t, N>& a) { raw(a.data(), N); }
  void count(std::size_t n, const char* what) {
    if (n > max_members)
      throw protocol_error("secagg wire: cannot encode " + str(n) + " " + what + ", at most " +
                           str(max_members));
    u32(static_cast<std::uint32_t>(n));
  }
  bytes take() { return std::move(out_); }

private:
  bytes out_;
};

class reader {
public:
  reader(const bytes& in, kind k, const char* name) : in_(in), name_(name) {
    if (in.size() < 4 || in[0] != 'S' || in[1] != 'A')
      fail("is not a secure aggregation message (no \"SA\" header)");
    if (in[2] != 1)
      fail("has wire version " + str(in[2]) + ", this build reads version 1; update the member");
    if (in[3] != k)
      fail("has the wrong kind byte " + str(in[3]) + " (expected " + str(k) + ")");
    at_ = 4;
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw protocol_error(std::string("secagg wire: ") + name_ + " " + why);
  }
  void need(std::size_t n) const {
    if (in_.size() - at_ < n)
      fail("is truncated: " + str(n) + " more bytes needed at offset " + str(at_) + ", " +
           str(in_.size() - at_) + " left");
  }
  std::uint8_t u8() {
    need(1);
    return in_[at_++];
  }
  std::uint32_t u32() {
    need(4);
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
      v = (v << 8) | in_[at_ + static_cast<std::size_t>(i)];
    at_ += 4;
    return v;
  }
  std::uint64_t u64() {
    need(8);
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
      v = (v << 8) | in_[at_ + static_cast<std::size_t>(i)];
    at_ += 8;
    return v;
  }
  template <std::size_t N> void raw(std::array<std::uint8_t, N>& a) {
    need(N);
    std::memcpy(a.data(), in_.data() + at_, N);
    at_ += N;
  }
  bytes raw(std::size_t n) {
    need(n);
    bytes b(in_.begin() + static_cast<std::ptrdiff_t>(at_), in_.begin() + static_cast<std::ptrdiff_t>(at_ + n));
    at_ += n;
    return b;
  }
  // A list count, refused before allocating when over max_members or more than the bytes left.
  std::size_t count(std::size_t item_bytes, const char* what) {
    const std::uint32_t n = u32();
    if (n > max_members)
      fail("lists " + str(n) + " " + what + ", at most " + str(max_members) + " are allowed");
    if (std::size_t{n} * item_bytes > in_.size() - at_)
      fail("is truncated: it lists " + str(n) + " " + what + " but holds bytes for " +
           str((in_.size() - at_) / item_bytes));
    return n;
  }
  ids id_list(const char* what) {
    const std::size_t n = count(4, what);
    ids v;
    v.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      v.push_back(u32());
      if (i > 0 && v[i] <= v[i - 1])
        fail("lists " + std::string(what) + " out of order or twice (" + str(v[i]) +
             " after " + str(v[i - 1]) + "); ids must strictly increase");
    }
    return v;
  }
  void done() const {
    if (at_ != in_.size())
      fail("has " + str(in_.size() - at_) + " trailing bytes");
  }

private:
  const bytes& in_;
  const char* name_;
  std::size_t at_ = 0;
};

constexpr std::size_t advertise_body = 4 + 3 * 32;
constexpr std::size_t encrypted_share_bytes = 8 + sealed_share_bytes;

void write_advertise(writer& w, const advertise_keys& m) {
  w.u32(m.member);
  w.raw(m.c_pk);
  w.raw(m.s_pk);
  w.raw(m.model_hash);
}
advertise_keys read_advertise(reader& r) {
  advertise_keys m;
  m.member = r.u32();
  r.raw(m.c_pk);
  r.raw(m.s_pk);
  r.raw(m.model_hash);
  return m;
}

void write_shares(writer& w, std::uint32_t member, const std::vector<encrypted_share>& shares) {
  w.u32(member);
  w.count(shares.size(), "shares");
  for (const encrypted_share& e : shares) {
    if (e.sealed.size() != sealed_share_bytes)
      throw protocol_error("secagg wire: a sealed share must be " + str(sealed_share_bytes) +
                           " bytes, got " + str(e.sealed.size()));
    w.u32(e.from);
    w.u32(e.to);
    w.raw(e.sealed.data(), e.sealed.size());
  }
}
std::vector<encrypted_share> read_shares(reader& r) {
  const std::size_t n = r.count(encrypted_share_bytes, "shares");
  std::vector<encrypted_share> v(n);
  for (encrypted_share& e : v) {
    e.from = r.u32();
    e.to = r.u32();
    e.sealed = r.raw(sealed_share_bytes);
  }
  return v;
}

void write_revealed(writer& w, const std::vector<revealed_share>& v) {
  w.count(v.size(), "shares");
  for (const revealed_share& s : v) {
    w.u32(s.owner);
    w.raw(s.share);
  }
}
std::vector<revealed_share> read_revealed(reader& r) {
  const std::size_t n = r.count(4 + shamir_share_bytes, "shares");
  std::vector<revealed_share> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i].owner = r.u32();
    r.raw(v[i].share);
    if (i > 0 && v[i].owner <= v[i - 1].owner)
      r.fail("lists shares out of owner order or twice; owners must strictly increase");
  }
  return v;
}

void write_ids(writer& w, const ids& v, const char* what) {
  w.count(v.size(), what);
  for (std::uint32_t id : v)
    w.u32(id);
}

} // namespace

// ---- messages ----

bytes advertise_keys::to_bytes() const {
  writer w(kind_advertise);
  write_advertise(w, *this);
  return w.take();
}
advertise_keys advertise_keys::from_bytes(const bytes& in) {
  reader r(in, kind_advertise, "advertise_keys");
  advertise_keys m = read_advertise(r);
  r.done();
  return m;
}

bytes key_list::to_bytes() const {
  writer w(kind_key_list);
  w.count(members.size(), "members");
  for (const advertise_keys& m : members)
    write_advertise(w, m);
  return w.take();
}
key_list key_list::from_bytes(const bytes& in) {
  reader r(in, kind_key_list, "key_list");
  key_list m;
  const std::size_t n = r.count(advertise_body, "members");
  m.members.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    m.members.push_back(read_advertise(r));
    if (i > 0 && m.members[i].member <= m.members[i - 1].member)
      r.fail("lists members out of order or twice; ids must strictly increase");
  }
  r.done();
  return m;
}

bytes share_keys::to_bytes() const {
  writer w(kind_share_keys);
  write_shares(w, member, shares);
  return w.take();
}
share_keys share_keys::from_bytes(const bytes& in) {
  reader r(in, kind_share_keys, "share_keys");
  share_keys m;
  m.member = r.u32();
  m.shares = read_shares(r);
  r.done();
  return m;
}

bytes routed_shares::to_bytes() const {
  writer w(kind_routed_shares);
  write_shares(w, member, shares);
  return w.take();
}
routed_shares routed_shares::from_bytes(const bytes& in) {
  reader r(in, kind_routed_shares, "routed_shares");
  routed_shares m;
  m.member = r.u32();
  m.shares = read_shares(r);
  r.done();
  return m;
}

bytes masked_input::to_bytes() const {
  if (bits < 1 || bits > 64 || packed.size() != packed_bytes(length, bits))
    throw protocol_error("secagg wire: masked_input holds " + str(packed.size()) +
                         " packed bytes, which is not " + str(length) + " values of " +
                         str(bits) + " bits");
  writer w(kind_masked_input);
  w.u32(member);
  w.u8(bits);
  w.u64(length);
  w.raw(packed.data(), packed.size());
  return w.take();
}
masked_input masked_input::from_bytes(const bytes& in) {
  reader r(in, kind_masked_input, "masked_input");
  masked_input m;
  m.member = r.u32();
  m.bits = r.u8();
  if (m.bits < 1 || m.bits > 64)
    r.fail("has " + str(m.bits) + " bits a value; 1..64 are allowed");
  m.length = r.u64();
  // Bound the length by the bytes present before computing (or allocating) anything from it.
  const std::size_t left = in.size() - 17;
  if (m.length / 8 > left || packed_bytes(m.length, m.bits) != left)
    r.fail("claims " + str(m.length) + " values of " + str(m.bits) + " bits but holds " +
           str(left) + " packed bytes");
  m.packed = r.raw(left);
  r.done();
  return m;
}

bytes unmask_request::to_bytes() const {
  writer w(kind_unmask_request);
  write_ids(w, survivors, "survivors");
  write_ids(w, dropped, "dropped members");
  return w.take();
}
unmask_request unmask_request::from_bytes(const bytes& in) {
  reader r(in, kind_unmask_request, "unmask_request");
  unmask_request m;
  m.survivors = r.id_list("survivors");
  m.dropped = r.id_list("dropped members");
  r.done();
  return m;
}

bytes unmask_response::to_bytes() const {
  writer w(kind_unmask_response);
  w.u32(member);
  write_revealed(w, b_shares);
  write_revealed(w, s_shares);
  return w.take();
}
unmask_response unmask_response::from_bytes(const bytes& in) {
  reader r(in, kind_unmask_response, "unmask_response");
  unmask_response m;
  m.member = r.u32();
  m.b_shares = read_revealed(r);
  m.s_shares = read_revealed(r);
  r.done();
  return m;
}

// ---- parameters and share groups ----

std::size_t default_threshold(std::size_t group) { return group / 2 + 1; }

params checked(params p) {
  std::sort(p.members.begin(), p.members.end());
  const auto dup = std::adjacent_find(p.members.begin(), p.members.end());
  if (dup != p.members.end())
    throw protocol_error("secagg: member " + str(*dup) + " is listed twice among the round's members");
  if (p.members.size() < min_cluster)
    throw protocol_error("secagg: secure aggregation needs at least " + str(min_cluster) +
                         " members besides the aggregator, the cluster has " +
                         str(p.members.size()) +
                         "; a smaller sum would expose single inputs: merge the cluster or run it "
                         "without secure aggregation");
  if (p.members.size() > max_members)
    throw protocol_error("secagg: " + str(p.members.size()) + " members, at most " +
                         str(max_members) + " are supported");
  if (p.bits < 1 || p.bits > 64)
    throw protocol_error("secagg: ring bits must be 1..64, got " + str(p.bits) +
                         "; use bits_for_sum for the largest possible |sum|");
  if (p.length == 0)
    throw protocol_error("secagg: the input length must be at least 1");
  if (p.neighbours != 0 && (p.neighbours < 3 || p.neighbours % 2 == 0))
    throw protocol_error("secagg: neighbours (the SecAgg+ share group size, counting the member) "
                         "must be 0 (everyone) or odd and at least 3, got " + str(p.neighbours));
  const std::size_t g =
      p.neighbours == 0 ? p.members.size() : std::min(p.neighbours, p.members.size());
  if (p.threshold == 0)
    p.threshold = default_threshold(g);
  if (p.threshold < default_threshold(g) || p.threshold > g)
    throw protocol_error("secagg: threshold t = " + str(p.threshold) + " must be a majority of the "
                         "share group of " + str(g) + " (" + str(default_threshold(g)) + " .. " +
                         str(g) + "), so the aggregator with a minority of members cannot unmask anyone");
  return p;
}

void check_model_hash(const digest32& registered, const digest32& received) {
  if (registered != received)
    throw protocol_error("secagg: the model this member was sent has SHA-256 " + hex(received) +
                         " but the coordinator registered " + hex(registered) +
                         "; refusing the round: fetch the round's model again");
}

namespace {

// The roster shuffled by the round context (Fisher-Yates on a ChaCha20 stream): public and
// fixed before the round, so neither a member nor the aggregator picks its neighbours.
ids ring_order(const ids& roster, const key32& round_context) {
  ids order = roster;
  random_source r = seeded_random(round_context);
  for (std::size_t i = order.size(); i > 1; --i) {
    std::uint8_t b[8];
    r(b, 8);
    std::uint64_t v = 0;
    for (int k = 7; k >= 0; --k)
      v = (v << 8) | b[k];
    std::swap(order[i - 1], order[v % i]); // bias < 2^-47 for 65535 members
  }
  return order;
}

std::map<std::uint32_t, ids> all_groups(const ids& roster, std::size_t neighbours,
                                        const key32& round_context) {
  std::map<std::uint32_t, ids> groups;
  if (neighbours == 0 || neighbours >= roster.size()) {
    for (std::uint32_t u : roster)
      groups[u] = roster;
    return groups;
  }
  const ids order = ring_order(roster, round_context);
  const std::size_t n = order.size(), half = neighbours / 2;
  for (std::size_t i = 0; i < n; ++i) {
    ids g;
    for (std::size_t k = n - half; k <= n + half; ++k)
      g.push_back(order[(i + k) % n]);
    std::sort(g.begin(), g.end());
    groups[order[i]] = std::move(g);
  }
  return groups;
}

} // namespace

std::vector<std::uint32_t> share_group(const std::vector<std::uint32_t>& roster,
                                       std::uint32_t member, std::size_t neighbours,
                                       const key32& round_context) {
  const auto groups = all_groups(roster, neighbours, round_context);
  const auto it = groups.find(member);
  if (it == groups.end())
    throw protocol_error("secagg: member " + str(member) + " is not in the roster");
  return it->second;
}

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

void secagg_client::expect(stage s, const char* step) {
  if (stage_ != s) {
    const bool failed = stage_ == stage::failed;
    stage_ = stage::failed;
    throw protocol_error(std::string("secagg: member ") + str(member_) + " cannot " + step +
                         (failed ? " after it failed" : " now: its steps run once, in order"));
  }
}

advertise_keys secagg_client::advertise(const digest32& received_model_hash) {
  expect(stage::advertise, "advertise keys");
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
  expect(stage::share, "share keys");
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
  expect(stage::mask, "mask its input");
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
  expect(stage::unmask, "unmask");
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

// ---- the aggregator ----

secagg_server::secagg_server(params p) : p_(checked(std::move(p))) {}

void secagg_server::expect(stage s, const char* step) const {
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
  expect(stage::advertise, "take advertised keys");
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
  expect(stage::advertise, "close the advertise stage");
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
  expect(stage::share, "take shares");
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
  expect(stage::share, "close the share stage");
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
  expect(stage::mask, "take masked inputs");
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
  expect(stage::mask, "close the masked input stage");
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
  expect(stage::unmask, "take unmasking shares");
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
  expect(stage::unmask, "finish");
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
