#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <stdexcept>

#include "fl/secagg/prg.hpp"
#include "fl/secagg/protocol.hpp"
#include "fl/secagg/shamir.hpp"
#include "fl/secagg/x25519.hpp"

using namespace flotilla::fl::secagg;
using bytes = std::vector<std::uint8_t>;
using ids = std::vector<std::uint32_t>;

namespace {

key32 seed_of(std::uint8_t v) {
  key32 k;
  k.fill(v);
  return k;
}

std::vector<std::uint64_t> random_values(std::size_t n, unsigned bits, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<std::uint64_t> v(n);
  for (auto& x : v)
    x = g() & ring_mask(bits);
  return v;
}

// ---- a whole round, every message through its bytes ----

enum class drop { none, before_advertise, after_advertise, after_share, after_mask, during_unmask };

struct round_scenario {
  std::size_t n = 5;
  std::size_t length = 257;
  unsigned bits = 32;
  std::size_t neighbours = 0;
  std::map<std::uint32_t, drop> drops; ///< by member id
};

struct round_outcome {
  std::vector<std::uint64_t> sum;
  std::vector<std::uint64_t> expected; ///< plain sum of the survivors' inputs
  ids survivors, dropped;
};

ids member_ids(std::size_t n) { // not 0..n-1: ids are arbitrary client ids
  ids v;
  for (std::size_t i = 0; i < n; ++i)
    v.push_back(static_cast<std::uint32_t>(7 + 3 * i));
  return v;
}

params round_params(const round_scenario& s) {
  params p;
  p.members = member_ids(s.n);
  p.bits = s.bits;
  p.length = s.length;
  p.neighbours = s.neighbours;
  p.round_context = seed_of(0xc0);
  p.model_hash = seed_of(0x11);
  return p;
}

drop drop_of(const round_scenario& s, std::uint32_t u) {
  const auto it = s.drops.find(u);
  return it == s.drops.end() ? drop::none : it->second;
}

round_outcome run_round(const round_scenario& s) {
  const params p = round_params(s);
  secagg_server server(p);
  std::map<std::uint32_t, secagg_client> clients;
  std::map<std::uint32_t, std::vector<std::uint64_t>> inputs;
  for (std::uint32_t u : p.members) {
    inputs[u] = random_values(s.length, s.bits, u);
    clients.emplace(u, secagg_client(p, u, inputs[u], seeded_random(seed_of(static_cast<std::uint8_t>(u)))));
  }
  for (auto& [u, c] : clients)
    if (drop_of(s, u) != drop::before_advertise)
      server.receive(advertise_keys::from_bytes(c.advertise(p.model_hash).to_bytes()));
  const bytes roster = server.close_advertise().to_bytes();
  for (auto& [u, c] : clients) {
    const drop d = drop_of(s, u);
    if (d != drop::before_advertise && d != drop::after_advertise)
      server.receive(share_keys::from_bytes(c.share(key_list::from_bytes(roster)).to_bytes()));
  }
  const auto routed = server.close_share_keys();
  for (const auto& [u, r] : routed)
    if (drop_of(s, u) != drop::after_share)
      server.receive(masked_input::from_bytes(
          clients.at(u).mask(routed_shares::from_bytes(r.to_bytes())).to_bytes()));
  const bytes request = server.close_masked_input().to_bytes();
  for (std::uint32_t u : server.survivors()) {
    const drop d = drop_of(s, u);
    if (d == drop::after_mask)
      continue;
    const bytes response =
        clients.at(u).unmask(unmask_request::from_bytes(request)).to_bytes();
    if (d != drop::during_unmask) // computed, then lost on the way
      server.receive(unmask_response::from_bytes(response));
  }
  round_outcome out;
  out.sum = server.finish();
  out.survivors = server.survivors();
  out.dropped = server.dropped();
  out.expected.assign(s.length, 0);
  for (std::uint32_t u : out.survivors)
    for (std::size_t i = 0; i < s.length; ++i)
      out.expected[i] = (out.expected[i] + inputs[u][i]) & ring_mask(s.bits);
  return out;
}

} // namespace

// ---- the ring and the mask stream ----

TEST_CASE("packing b-bit values round-trips at every width and refuses bad sizes and padding") {
  for (unsigned bits : {1u, 7u, 8u, 13u, 32u, 44u, 63u, 64u})
    for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 1000u}) {
      const auto v = random_values(n, bits, bits * 1000 + n);
      const bytes packed = pack(v, bits);
      CHECK(packed.size() == (n * bits + 7) / 8);
      CHECK(unpack(packed.data(), packed.size(), n, bits) == v);
    }
  const bytes packed = pack({5, 6, 7}, 3); // 9 bits: 2 bytes, 7 padding bits
  CHECK_THROWS_WITH_AS(unpack(packed.data(), 1, 3, 3),
                       "secagg: 3 values of 3 bits pack into 2 bytes, got 1", std::invalid_argument);
  bytes padded = packed;
  padded[1] |= 0x80;
  CHECK_THROWS_WITH_AS(unpack(padded.data(), padded.size(), 3, 3),
                       "secagg: packed values have non-zero padding bits; the sender packed them wrongly",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(pack({1, 8}, 3),
                       "secagg: value 1 (8) does not fit in 3 bits; reduce it mod 2^bits first",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(pack({1}, 65), "secagg: ring bits must be 1..64, got 65", std::invalid_argument);
}

TEST_CASE("bits_for_sum gives the smallest ring that recovers a signed sum") {
  CHECK(bits_for_sum(0) == 1);
  CHECK(bits_for_sum(1) == 2);
  CHECK(bits_for_sum(127) == 8);
  CHECK(bits_for_sum(128) == 9);
  CHECK(bits_for_sum(std::uint64_t{1} << 40) == 42);
  CHECK(bits_for_sum((std::uint64_t{1} << 63) - 1) == 64);
  CHECK_THROWS_WITH_AS(bits_for_sum(std::uint64_t{1} << 63),
                       "secagg: a sum of magnitude 9223372036854775808 needs 65 bits, more than the "
                       "64 the ring supports; lower the fixed-point resolution or the clipping bound",
                       std::invalid_argument);
  // A sum within the bound survives the trip through the ring, whatever its sign.
  const unsigned b = bits_for_sum(1000);
  CHECK(b == 11);
  std::uint64_t acc = 0;
  for (std::int64_t v : {-1000, 600, -550, -50})
    acc = (acc + to_ring(v, b)) & ring_mask(b);
  CHECK(from_ring(acc, b) == -1000);
  CHECK(from_ring(to_ring(-1, 64), 64) == -1);
  CHECK_THROWS_WITH_AS(to_ring(1024, 11),
                       "secagg: the value 1024 does not fit in 11 signed bits; raise the ring bits",
                       std::invalid_argument);
}

TEST_CASE("the mask stream is fixed by its seed and cancels when subtracted") {
  const auto a = expand_mask(seed_of(1), 5000, 44);
  CHECK(a == expand_mask(seed_of(1), 5000, 44));
  CHECK(a != expand_mask(seed_of(2), 5000, 44));
  CHECK(std::all_of(a.begin(), a.end(), [](std::uint64_t v) { return v <= ring_mask(44); }));
  // A prefix is the same stream, whatever the chunking.
  const auto prefix = expand_mask(seed_of(1), 4097, 44);
  CHECK(std::equal(prefix.begin(), prefix.end(), a.begin()));
  auto x = random_values(5000, 44, 9);
  const auto original = x;
  apply_mask(x, seed_of(3), 44, false);
  CHECK(x != original);
  apply_mask(x, seed_of(3), 44, true);
  CHECK(x == original);
}

// ---- keys, channel, shares ----

TEST_CASE("x25519 agreement is symmetric and HKDF separates mask seeds from share keys") {
  auto random = seeded_random(seed_of(9));
  const keypair a = generate_keypair(random), b = generate_keypair(random);
  auto again = seeded_random(seed_of(9));
  CHECK(generate_keypair(again).public_key == a.public_key); // seeded: reproducible
  CHECK(public_key_of(a.secret_key) == a.public_key);
  const key32 ab = agree(a.secret_key, b.public_key);
  CHECK(ab == agree(b.secret_key, a.public_key));
  CHECK(derive_mask_seed(ab, seed_of(1)) != derive_share_key(ab, seed_of(1)));
  CHECK(derive_mask_seed(ab, seed_of(1)) != derive_mask_seed(ab, seed_of(2))); // other round
  CHECK(generate_keypair(os_random()).public_key != generate_keypair(os_random()).public_key);
  CHECK_THROWS_WITH_AS(agree(a.secret_key, key32{}),
                       "secagg: X25519 agreement gave no secret: the peer's public key is a "
                       "low-order point; treat that member as malicious",
                       std::invalid_argument);
}

TEST_CASE("a sealed share opens only with its key, direction and round") {
  const key32 key = seed_of(4), ctx = seed_of(5);
  const bytes plain{1, 2, 3, 4, 5};
  const bytes sealed = seal(key, 3, 8, ctx, plain);
  CHECK(sealed.size() == plain.size() + seal_overhead);
  CHECK(open(key, 3, 8, ctx, sealed) == plain);
  const std::string refused = "secagg: a share from member 8 to 3 failed authentication (wrong "
                              "key, round or tampered bytes)";
  CHECK_THROWS_WITH_AS(open(key, 8, 3, ctx, sealed), refused.c_str(), std::invalid_argument);
  CHECK_THROWS_AS(open(seed_of(6), 3, 8, ctx, sealed), std::invalid_argument);
  CHECK_THROWS_AS(open(key, 3, 8, seed_of(6), sealed), std::invalid_argument);
  bytes tampered = sealed;
  tampered[0] ^= 1;
  CHECK_THROWS_AS(open(key, 3, 8, ctx, tampered), std::invalid_argument);
}

TEST_CASE("shamir shares rebuild a secret from any t of n and refuse fewer") {
  auto random = seeded_random(seed_of(7));
  key32 secret;
  random(secret.data(), secret.size());
  secret[31] = 0xff; // the widest chunk values
  const std::vector<std::uint64_t> xs{8, 11, 14, 17, 20};
  const auto shares = shamir_split(secret, 3, xs, random);
  CHECK(shamir_combine({shares[0], shares[1], shares[2]}, 3) == secret);
  CHECK(shamir_combine({shares[4], shares[2], shares[0]}, 3) == secret);
  CHECK(shamir_combine(shares, 3) == secret); // the extra two are checked too
  CHECK_THROWS_WITH_AS(shamir_combine({shares[0], shares[1]}, 3),
                       "shamir: 2 shares given, the threshold is 3: collect at least 3 shares",
                       std::invalid_argument);
  auto tampered = shares;
  tampered[4].y[2] = (tampered[4].y[2] + 1) % shamir_prime;
  CHECK_THROWS_WITH_AS(shamir_combine(tampered, 3),
                       "shamir: the share at point 20 disagrees with the others: shares were "
                       "tampered with or belong to different secrets",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(shamir_combine({shares[0], shares[0], shares[1]}, 3),
                       "shamir: share point 8 appears twice: each holder gives one share",
                       std::invalid_argument);
  // Exactly t shares cannot be cross-checked, but a changed one usually rebuilds an invalid secret.
  CHECK_THROWS_AS(shamir_combine({tampered[4], shares[1], shares[2]}, 3), std::invalid_argument);
  CHECK(shamir_combine(shamir_split(secret, 1, {5}, random), 1) == secret);
  CHECK_THROWS_WITH_AS(shamir_split(secret, 6, xs, random),
                       "shamir: threshold 6 must be 1 .. the number of shares (5)", std::invalid_argument);
  const auto enc = encode_share(shares[1]);
  CHECK(decode_share(11, enc.data()).y == shares[1].y);
  bytes bad(enc.begin(), enc.end());
  std::fill(bad.begin(), bad.begin() + 8, 0xff);
  CHECK_THROWS_WITH_AS(decode_share(11, bad.data()),
                       "shamir: a share value is not a field element (>= 2^61 - 1)", std::invalid_argument);
}

TEST_CASE("shamir supports 65535 holders and refuses more") {
  auto random = seeded_random(seed_of(8));
  const key32 secret = seed_of(0x42);
  std::vector<std::uint64_t> xs(65535);
  for (std::size_t i = 0; i < xs.size(); ++i)
    xs[i] = i + 1;
  const auto shares = shamir_split(secret, 4, xs, random);
  CHECK(shamir_combine({shares[65534], shares[100], shares[7], shares[40000]}, 4) == secret);
  xs.push_back(65536);
  CHECK_THROWS_WITH_AS(shamir_split(secret, 4, xs, random),
                       "shamir: 65536 shares requested, at most 65535 are supported",
                       std::invalid_argument);
}

// ---- the protocol ----

TEST_CASE("secure aggregation sums exactly with no dropouts") {
  round_scenario s;
  SUBCASE("3 members") { s.n = 3; }
  SUBCASE("5 members") { s.n = 5; }
  SUBCASE("20 members, a 20-bit ring") {
    s.n = 20;
    s.bits = 20;
  }
  SUBCASE("5 members, a 64-bit ring") {
    s.n = 5;
    s.bits = 64;
  }
  const round_outcome r = run_round(s);
  CHECK(r.survivors == member_ids(s.n));
  CHECK(r.dropped.empty());
  CHECK(r.sum == r.expected);
}

TEST_CASE("dropouts at each stage leave the exact sum over the members who sent masked inputs") {
  round_scenario s;
  s.n = 7; // t = 4
  const ids m = member_ids(s.n);
  ids survivors;
  SUBCASE("before advertising keys") {
    s.drops = {{m[0], drop::before_advertise}, {m[4], drop::before_advertise}};
    survivors = {m[1], m[2], m[3], m[5], m[6]};
  }
  SUBCASE("after advertising keys") {
    s.drops = {{m[2], drop::after_advertise}, {m[6], drop::after_advertise}};
    survivors = {m[0], m[1], m[3], m[4], m[5]};
  }
  SUBCASE("after sharing keys: their masks are rebuilt from s_sk shares") {
    s.drops = {{m[1], drop::after_share}, {m[5], drop::after_share}, {m[6], drop::after_share}};
    survivors = {m[0], m[2], m[3], m[4]};
  }
  SUBCASE("after sending masked inputs: their inputs count, their b_u come from others") {
    s.drops = {{m[0], drop::after_mask}, {m[3], drop::after_mask}};
    survivors = m;
  }
  SUBCASE("during unmasking: a response lost on the way") {
    s.drops = {{m[6], drop::during_unmask}};
    survivors = m;
  }
  SUBCASE("at every stage at once") {
    s.n = 11; // t = 6
    const ids w = member_ids(s.n);
    s.drops = {{w[0], drop::before_advertise}, {w[1], drop::after_advertise},
               {w[2], drop::after_share}, {w[3], drop::after_mask}, {w[4], drop::during_unmask}};
    survivors = {w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10]};
  }
  const round_outcome r = run_round(s);
  CHECK(r.survivors == survivors);
  CHECK(r.sum == r.expected);
}

TEST_CASE("a third of the members crashing after sending masked inputs still gives the exact sum") {
  round_scenario s;
  s.n = 9; // t = 5: six answer the unmasking
  const ids m = member_ids(s.n);
  s.drops = {{m[1], drop::after_mask}, {m[4], drop::after_mask}, {m[8], drop::after_mask}};
  const round_outcome r = run_round(s);
  CHECK(r.survivors == m);
  CHECK(r.sum == r.expected);
}

TEST_CASE("SecAgg+ share groups sum exactly, with and without dropouts") {
  round_scenario s;
  s.n = 20;
  s.neighbours = 7; // t = 4 of each group of 7
  const ids m = member_ids(s.n);
  SUBCASE("no dropouts") {}
  SUBCASE("dropouts after sharing keys and after masking") {
    s.drops = {{m[3], drop::after_share}, {m[11], drop::after_mask}, {m[17], drop::before_advertise}};
  }
  const round_outcome r = run_round(s);
  CHECK(r.sum == r.expected);
  // A group is the member and three either side on a shuffled ring: symmetric, 7 members.
  const auto g = share_group(m, m[5], 7, seed_of(0xc0));
  CHECK(g.size() == 7);
  CHECK(std::find(g.begin(), g.end(), m[5]) != g.end());
  for (std::uint32_t v : g) {
    const auto back = share_group(m, v, 7, seed_of(0xc0));
    CHECK(std::find(back.begin(), back.end(), m[5]) != back.end());
  }
  CHECK(share_group(m, m[5], 7, seed_of(0xc1)) != g); // another round, another ring
}

TEST_CASE("fewer than t survivors abort the round with a message saying so") {
  round_scenario s; // 5 members, t = 3
  const ids m = member_ids(s.n);
  SUBCASE("at advertise keys") {
    s.drops = {{m[0], drop::before_advertise}, {m[1], drop::before_advertise}, {m[2], drop::before_advertise}};
    CHECK_THROWS_WITH_AS(run_round(s),
                         "secagg: round aborted at advertise keys: 2 of 5 members advertised keys, "
                         "fewer than t = 3; re-run the round",
                         round_aborted);
  }
  SUBCASE("at share keys") {
    s.drops = {{m[0], drop::after_advertise}, {m[1], drop::after_advertise}, {m[2], drop::after_advertise}};
    CHECK_THROWS_WITH_AS(run_round(s),
                         "secagg: round aborted at share keys: 2 members sent shares, fewer than "
                         "t = 3; re-run the round",
                         round_aborted);
  }
  SUBCASE("at masked input") {
    s.drops = {{m[0], drop::after_share}, {m[1], drop::after_share}, {m[4], drop::after_share}};
    CHECK_THROWS_WITH_AS(run_round(s),
                         "secagg: round aborted at masked input: 2 members sent masked inputs, "
                         "fewer than t = 3; re-run the round",
                         round_aborted);
  }
  SUBCASE("at unmasking") {
    s.drops = {{m[0], drop::after_mask}, {m[2], drop::during_unmask}, {m[3], drop::after_mask}};
    CHECK_THROWS_WITH_AS(run_round(s),
                         "secagg: round aborted at unmasking: 2 shares of member 7's self-mask "
                         "arrived, fewer than t = 3; re-run the round",
                         round_aborted);
  }
}

TEST_CASE("clusters below min_cluster and thresholds below a majority are refused") {
  params p;
  p.members = {4, 9};
  p.bits = 32;
  p.length = 10;
  CHECK_THROWS_WITH_AS(secagg_server{p},
                       "secagg: secure aggregation needs at least 3 members besides the aggregator, "
                       "the cluster has 2; a smaller sum would expose single inputs: merge the "
                       "cluster or run it without secure aggregation",
                       protocol_error);
  p.members = {4, 9, 12, 15};
  CHECK(checked(p).threshold == 3);
  p.threshold = 2;
  CHECK_THROWS_WITH_AS(checked(p),
                       "secagg: threshold t = 2 must be a majority of the share group of 4 (3 .. 4), "
                       "so the aggregator with a minority of members cannot unmask anyone",
                       protocol_error);
  p.threshold = 0;
  p.neighbours = 4;
  CHECK_THROWS_WITH_AS(checked(p),
                       "secagg: neighbours (the SecAgg+ share group size, counting the member) must "
                       "be 0 (everyone) or odd and at least 3, got 4",
                       protocol_error);
}

TEST_CASE("a member refuses a model other than the registered one") {
  const digest32 registered = seed_of(0x11), other = seed_of(0x12);
  CHECK_NOTHROW(check_model_hash(registered, registered));
  CHECK_THROWS_WITH_AS(check_model_hash(registered, other),
                       "secagg: the model this member was sent has SHA-256 "
                       "1212121212121212121212121212121212121212121212121212121212121212 but the "
                       "coordinator registered "
                       "1111111111111111111111111111111111111111111111111111111111111111; refusing "
                       "the round: fetch the round's model again",
                       protocol_error);
  round_scenario s;
  const params p = round_params(s);
  secagg_client c(p, p.members[0], std::vector<std::uint64_t>(p.length, 1), seeded_random(seed_of(1)));
  CHECK_THROWS_AS(c.advertise(other), protocol_error);
  CHECK(c.current() == secagg_client::stage::failed);
  // The aggregator leaves out a member whose advertised hash differs, too.
  secagg_server server(p);
  secagg_client d(p, p.members[1], std::vector<std::uint64_t>(p.length, 1), seeded_random(seed_of(2)));
  advertise_keys a = d.advertise(p.model_hash);
  a.model_hash = other;
  CHECK_THROWS_AS(server.receive(a), protocol_error);
}

namespace {

// A round run by hand up to the unmasking request, for tests that play the aggregator's part.
struct staged_round {
  params p;
  std::map<std::uint32_t, secagg_client> clients;
  std::map<std::uint32_t, std::vector<std::uint64_t>> inputs;
  std::map<std::uint32_t, masked_input> masked; ///< what the aggregator received
  key_list roster;
  unmask_request request;

  staged_round(const round_scenario& s, secagg_server& server) : p(round_params(s)) {
    for (std::uint32_t u : p.members) {
      inputs[u] = random_values(s.length, s.bits, u);
      clients.emplace(u, secagg_client(p, u, inputs[u], seeded_random(seed_of(static_cast<std::uint8_t>(u)))));
    }
    for (auto& [u, c] : clients)
      server.receive(c.advertise(p.model_hash));
    roster = server.close_advertise();
    for (auto& [u, c] : clients)
      server.receive(c.share(roster));
    for (const auto& [u, r] : server.close_share_keys())
      if (drop_of(s, u) != drop::after_share) {
        masked[u] = clients.at(u).mask(r);
        server.receive(masked[u]);
      }
    request = server.close_masked_input();
  }

  const advertise_keys& keys(std::uint32_t u) const {
    return *std::find_if(roster.members.begin(), roster.members.end(),
                         [u](const advertise_keys& a) { return a.member == u; });
  }
};

} // namespace

TEST_CASE("in a 3-member cluster with one dropout the aggregator's view hides each survivor's input") {
  round_scenario s;
  s.n = 3; // members 7, 10, 13; t = 2
  s.bits = 8;
  s.length = 1 << 14;
  s.drops = {{13, drop::after_share}};
  secagg_server server(round_params(s));
  staged_round r(s, server);
  REQUIRE(r.request.survivors == ids{7, 10});
  REQUIRE(r.request.dropped == ids{13});

  // The honest unmasking: each survivor reveals b shares of 7 and 10, s_sk shares of 13 only.
  std::map<std::uint32_t, std::vector<shamir_share>> b, s_sk;
  for (std::uint32_t u : {7u, 10u}) {
    const unmask_response a = r.clients.at(u).unmask(r.request);
    server.receive(a);
    for (const revealed_share& v : a.b_shares)
      b[v.owner].push_back(decode_share(u + 1, v.share.data()));
    for (const revealed_share& v : a.s_shares)
      s_sk[v.owner].push_back(decode_share(u + 1, v.share.data()));
  }
  CHECK(s_sk.size() == 1);
  CHECK(s_sk.count(13) == 1); // never a survivor's mask key
  std::vector<std::uint64_t> plain_sum(s.length);
  for (std::size_t i = 0; i < s.length; ++i)
    plain_sum[i] = (r.inputs[7][i] + r.inputs[10][i]) & 0xff;
  CHECK(server.finish() == plain_sum); // the sum, and (below) nothing more

  // Everything the aggregator can strip from y_7: its self-mask and its mask with dropped 13.
  std::vector<std::uint64_t> z7 = unpack(r.masked[7].packed.data(), r.masked[7].packed.size(), s.length, 8);
  apply_mask(z7, shamir_combine(b[7], 2), 8, true);
  const key32 s13 = shamir_combine(s_sk[13], 2);
  apply_mask(z7, derive_mask_seed(agree(s13, r.keys(7).s_pk), r.p.round_context), 8, true);
  // What is left is x_7 + PRG(s_{7,10}); s_{7,10} needs s_sk_7 or s_sk_10, of which it holds no
  // share. The pad is uniform, so the view fits every x_7' (with pad z_7 - x_7') equally well.
  const auto histogram_is_flat = [](const std::vector<std::uint64_t>& pad) {
    std::vector<std::size_t> count(256, 0);
    for (std::uint64_t v : pad)
      ++count[v];
    // 64 expected per value; a chi-square far beyond its 255 degrees of freedom fails.
    double chi2 = 0;
    for (std::size_t c : count)
      chi2 += (c - 64.0) * (c - 64.0) / 64.0;
    return chi2 < 400;
  };
  const auto other = random_values(s.length, 8, 999); // any other input for member 7
  std::vector<std::uint64_t> pad(s.length), other_pad(s.length);
  for (std::size_t i = 0; i < s.length; ++i) {
    pad[i] = (z7[i] - r.inputs[7][i]) & 0xff;
    other_pad[i] = (z7[i] - other[i]) & 0xff;
  }
  CHECK(pad != std::vector<std::uint64_t>(s.length, 0));
  CHECK(histogram_is_flat(pad));
  CHECK(histogram_is_flat(other_pad));
  // A plain input would show: member 7's inputs are not flat at all when they are constant.
  CHECK(!histogram_is_flat(std::vector<std::uint64_t>(s.length, 3)));
}

TEST_CASE("a curious aggregator that lies about who dropped still cannot unmask one member") {
  round_scenario s;
  s.n = 3;
  s.length = 64;
  s.drops = {{13, drop::after_share}};
  secagg_server server(round_params(s));
  staged_round r(s, server);
  // It tells member 10 that 7 dropped (so 10 reveals s_sk_7's share) and member 7 the truth.
  const unmask_response from10 = r.clients.at(10).unmask({{10, 13}, {7}});
  const unmask_response from7 = r.clients.at(7).unmask(r.request);
  std::vector<shamir_share> b7, s7;
  for (const auto& [from, a] : {std::pair{10u, from10}, std::pair{7u, from7}}) {
    for (const revealed_share& v : a.b_shares)
      if (v.owner == 7)
        b7.push_back(decode_share(from + 1, v.share.data()));
    for (const revealed_share& v : a.s_shares)
      if (v.owner == 7)
        s7.push_back(decode_share(from + 1, v.share.data()));
  }
  // One share of each of member 7's secrets: t = 2 are needed for either.
  CHECK(b7.size() == 1);
  CHECK(s7.size() == 1);
  CHECK_THROWS_WITH_AS(shamir_combine(s7, 2),
                       "shamir: 1 shares given, the threshold is 2: collect at least 2 shares",
                       std::invalid_argument);
  CHECK_THROWS_AS(shamir_combine(b7, 2), std::invalid_argument);
  // Each member answers once: asking again, with another story, gets nothing.
  CHECK_THROWS_WITH_AS(r.clients.at(10).unmask(r.request),
                       "secagg: member 10 cannot unmask now: its steps run once, in order",
                       protocol_error);
}

TEST_CASE("a member refuses requests that would unmask a single member") {
  round_scenario s;
  s.n = 3;
  s.length = 64;
  s.drops = {{13, drop::after_share}};
  secagg_server server(round_params(s));
  staged_round r(s, server);
  secagg_client& c = r.clients.at(10);
  SUBCASE("both shares of one member") {
    CHECK_THROWS_WITH_AS(c.unmask({{7, 10}, {7, 13}}),
                         "secagg: refusing to unmask: the aggregator asked for both the self-mask "
                         "and the mask key of member 7 (listed as surviving and as dropped); "
                         "answering would reveal its input",
                         protocol_error);
    CHECK(c.current() == secagg_client::stage::failed);
    CHECK_THROWS_WITH_AS(c.unmask(r.request), "secagg: member 10 cannot unmask after it failed",
                         protocol_error);
  }
  SUBCASE("fewer than t survivors") {
    CHECK_THROWS_WITH_AS(c.unmask({{10}, {7, 13}}),
                         "secagg: refusing to unmask: 1 of this member's share group survive, "
                         "fewer than t = 2; so few survivors could expose one member's input",
                         protocol_error);
  }
  SUBCASE("itself listed as dropped") {
    CHECK_THROWS_WITH_AS(c.unmask({{7, 13}, {10}}),
                         "secagg: refusing to unmask: the aggregator does not list this member (10) "
                         "among the survivors it asks",
                         protocol_error);
  }
}

TEST_CASE("tampered shares are caught: routed ones by their tag, revealed ones by the extra shares") {
  round_scenario s; // 5 members, t = 3
  SUBCASE("a routed share changed in transit makes its recipient drop out") {
    const params p = round_params(s);
    secagg_server server(p);
    std::map<std::uint32_t, secagg_client> clients;
    for (std::uint32_t u : p.members) {
      clients.emplace(u, secagg_client(p, u, std::vector<std::uint64_t>(p.length, u), seeded_random(seed_of(static_cast<std::uint8_t>(u)))));
      server.receive(clients.at(u).advertise(p.model_hash));
    }
    const key_list roster = server.close_advertise();
    for (auto& [u, c] : clients)
      server.receive(c.share(roster));
    auto routed = server.close_share_keys();
    routed_shares& to7 = routed.at(7);
    to7.shares[0].sealed[5] ^= 0x20;
    CHECK_THROWS_WITH_AS(clients.at(7).mask(to7),
                         "secagg: a share from member 10 to 7 failed authentication (wrong key, "
                         "round or tampered bytes)",
                         std::invalid_argument);
    CHECK(clients.at(7).current() == secagg_client::stage::failed);
  }
  SUBCASE("a revealed share that disagrees with the others stops the sum") {
    secagg_server server(round_params(s));
    staged_round r(s, server);
    for (auto& [u, c] : r.clients) {
      unmask_response a = c.unmask(r.request);
      if (u == 19) { // the last to arrive: checked against the first t
        shamir_share v = decode_share(u + 1, a.b_shares[0].share.data());
        v.y[0] = (v.y[0] + 1) % shamir_prime;
        a.b_shares[0].share = encode_share(v);
      }
      server.receive(a);
    }
    CHECK_THROWS_WITH_AS(server.finish(),
                         "secagg: member 7's self-mask cannot be rebuilt: shamir: the share at point "
                         "20 disagrees with the others: shares were tampered with or belong to "
                         "different secrets",
                         protocol_error);
  }
}

TEST_CASE("the aggregator refuses messages that do not fit the round") {
  round_scenario s;
  const params p = round_params(s);
  secagg_server server(p);
  staged_round r(s, server);
  CHECK_THROWS_WITH_AS(server.receive(r.masked.at(7)),
                       "secagg: the aggregator cannot take masked inputs now: the round's stages run "
                       "once, in order",
                       protocol_error);
  unmask_response a = r.clients.at(7).unmask(r.request);
  unmask_response greedy = a;
  greedy.s_shares.push_back({10, a.b_shares[1].share}); // asks nothing of 10's mask key
  CHECK_THROWS_WITH_AS(server.receive(greedy),
                       "secagg: member 7 revealed shares of other members than its surviving and "
                       "dropped group members; ignored",
                       protocol_error);
  server.receive(a);
  CHECK_THROWS_WITH_AS(server.receive(a), "secagg: member 7 sent unmasking shares twice; ignored",
                       protocol_error);
}

TEST_CASE("wire decoding refuses truncated, oversized and garbage bytes with clear errors") {
  round_scenario s;
  s.n = 3;
  s.length = 10;
  s.drops = {{13, drop::after_share}};
  secagg_server server(round_params(s));
  staged_round r(s, server);
  const bytes adv = r.roster.members[0].to_bytes();
  CHECK(adv.size() == 104);
  CHECK(advertise_keys::from_bytes(adv).c_pk == r.roster.members[0].c_pk);

  SUBCASE("garbage, version and kind") {
    CHECK_THROWS_WITH_AS(advertise_keys::from_bytes({0xde, 0xad}),
                         "secagg wire: advertise_keys is not a secure aggregation message (no \"SA\" header)",
                         protocol_error);
    bytes v2 = adv;
    v2[2] = 2;
    CHECK_THROWS_WITH_AS(advertise_keys::from_bytes(v2),
                         "secagg wire: advertise_keys has wire version 2, this build reads version 1; "
                         "update the member",
                         protocol_error);
    CHECK_THROWS_WITH_AS(key_list::from_bytes(adv),
                         "secagg wire: key_list has the wrong kind byte 1 (expected 2)", protocol_error);
  }
  SUBCASE("truncated and trailing bytes") {
    CHECK_THROWS_WITH_AS(advertise_keys::from_bytes(bytes(adv.begin(), adv.end() - 1)),
                         "secagg wire: advertise_keys is truncated: 32 more bytes needed at offset 72, "
                         "31 left",
                         protocol_error);
    bytes longer = adv;
    longer.push_back(0);
    CHECK_THROWS_WITH_AS(advertise_keys::from_bytes(longer),
                         "secagg wire: advertise_keys has 1 trailing bytes", protocol_error);
    const bytes m = r.masked.at(7).to_bytes();
    CHECK(masked_input::from_bytes(m).packed == r.masked.at(7).packed);
    CHECK_THROWS_WITH_AS(masked_input::from_bytes(bytes(m.begin(), m.end() - 1)),
                         "secagg wire: masked_input claims 10 values of 32 bits but holds 39 packed bytes",
                         protocol_error);
  }
  SUBCASE("counts and lengths are bounded before anything is allocated") {
    bytes huge{'S', 'A', 1, 2, 0xff, 0xff, 0xff, 0xff};
    CHECK_THROWS_WITH_AS(key_list::from_bytes(huge),
                         "secagg wire: key_list lists 4294967295 members, at most 65535 are allowed",
                         protocol_error);
    bytes many{'S', 'A', 1, 2, 0xe8, 0x03, 0, 0}; // 1000 members, no bytes for them
    CHECK_THROWS_WITH_AS(key_list::from_bytes(many),
                         "secagg wire: key_list is truncated: it lists 1000 members but holds bytes for 0",
                         protocol_error);
    bytes big{'S', 'A', 1, 5, 7, 0, 0, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0x80, 1, 2, 3, 4};
    CHECK_THROWS_WITH_AS(masked_input::from_bytes(big),
                         "secagg wire: masked_input claims 9223372036854775808 values of 32 bits but "
                         "holds 4 packed bytes",
                         protocol_error);
    big[8] = 0;
    CHECK_THROWS_WITH_AS(masked_input::from_bytes(big),
                         "secagg wire: masked_input has 0 bits a value; 1..64 are allowed", protocol_error);
  }
  SUBCASE("member lists must strictly increase") {
    bytes req = unmask_request{{7, 10}, {13}}.to_bytes();
    CHECK(unmask_request::from_bytes(req).survivors == ids{7, 10});
    std::swap(req[8], req[12]); // survivors 10, 7
    CHECK_THROWS_WITH_AS(unmask_request::from_bytes(req),
                         "secagg wire: unmask_request lists survivors out of order or twice (7 after "
                         "10); ids must strictly increase",
                         protocol_error);
    const unmask_response a = r.clients.at(7).unmask(r.request);
    unmask_response swapped = a;
    std::swap(swapped.b_shares[0], swapped.b_shares[1]);
    CHECK(unmask_response::from_bytes(a.to_bytes()).b_shares.size() == 2);
    CHECK_THROWS_WITH_AS(unmask_response::from_bytes(swapped.to_bytes()),
                         "secagg wire: unmask_response lists shares out of owner order or twice; "
                         "owners must strictly increase",
                         protocol_error);
  }
  SUBCASE("mutated messages never crash a decoder: they decode or are refused") {
    secagg_server other(round_params(s));
    staged_round again(s, other);
    const auto routed = share_keys{7, {{7, 10, bytes(sealed_share_bytes, 1)}}};
    const std::vector<bytes> corpus{adv,
                                    r.roster.to_bytes(),
                                    routed.to_bytes(),
                                    routed_shares{10, routed.shares}.to_bytes(),
                                    r.masked.at(7).to_bytes(),
                                    r.request.to_bytes(),
                                    again.clients.at(7).unmask(again.request).to_bytes()};
    std::mt19937_64 g(5);
    std::size_t refused = 0, decoded = 0;
    for (int i = 0; i < 7000; ++i) {
      const std::size_t kind = static_cast<std::size_t>(i) % corpus.size();
      bytes b = corpus[kind];
      switch (g() % 3) {
      case 0: b[g() % b.size()] ^= static_cast<std::uint8_t>(1 + g() % 255); break;
      case 1: b.resize(g() % b.size()); break;
      default: b.push_back(static_cast<std::uint8_t>(g())); break;
      }
      try {
        switch (kind) {
        case 0: advertise_keys::from_bytes(b); break;
        case 1: key_list::from_bytes(b); break;
        case 2: share_keys::from_bytes(b); break;
        case 3: routed_shares::from_bytes(b); break;
        case 4: masked_input::from_bytes(b); break;
        case 5: unmask_request::from_bytes(b); break;
        default: unmask_response::from_bytes(b); break;
        }
        ++decoded; // a flipped key or share byte: the protocol's checks take it from here
      } catch (const protocol_error&) {
        ++refused;
      }
    }
    CHECK(refused + decoded == 7000);
    CHECK(decoded > 0);
    CHECK(refused > 0);
  }
}
