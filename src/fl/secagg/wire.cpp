// The wire messages: to_bytes/from_bytes of every message, and the byte writer and reader they
// share.
#include "fl/secagg/protocol.hpp"

#include <cstring>
#include <string>
#include <utility>

#include "fl/secagg/protocol_detail.hpp"

namespace flotilla::fl::secagg {

using detail::bytes;
using detail::ids;
using detail::str;

namespace {

// ---- wire ----
enum kind : std::uint8_t {
  kind_advertise = 1, kind_key_list, kind_share_keys, kind_routed_shares,
  kind_masked_input, kind_unmask_request, kind_unmask_response, kind_round_setup
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

bytes round_setup::to_bytes() const {
  writer w(kind_round_setup);
  write_ids(w, p.members, "members");
  w.u32(static_cast<std::uint32_t>(p.threshold));
  w.u8(static_cast<std::uint8_t>(p.bits));
  w.u64(p.length);
  w.u32(static_cast<std::uint32_t>(p.neighbours));
  w.raw(p.round_context);
  w.raw(p.model_hash);
  w.u32(static_cast<std::uint32_t>(p.min_members));
  return w.take();
}
round_setup round_setup::from_bytes(const bytes& in) {
  reader r(in, kind_round_setup, "round_setup");
  round_setup m;
  m.p.members = r.id_list("members");
  m.p.threshold = r.u32();
  m.p.bits = r.u8();
  m.p.length = r.u64();
  m.p.neighbours = r.u32();
  r.raw(m.p.round_context);
  r.raw(m.p.model_hash);
  m.p.min_members = r.u32();
  r.done();
  if (m.p.length > max_length) // checked() says so too; refused here before anyone allocates it
    r.fail("sums " + str(m.p.length) + " values, at most " + str(max_length));
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

} // namespace flotilla::fl::secagg
