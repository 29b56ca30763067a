// Secure aggregation as the runs use it (privacy.secure_aggregation): members keep their update
// as FedAvg's fixed-point integers relative to the round's model (actors/secure_member), the
// protocol's steps run through their bytes, and the unmasked sum folded into round_updates gives
// the mean the same updates give in the clear, bit for bit. The actors' wiring (fan-outs,
// crashes, elections, nodes) is tests/integration/secure_aggregation.sh.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <tuple>

#include "actors/secure_member.hpp"
#include "actors/secure_round.hpp"
#include "fl/aggregate.hpp"
#include "fl/privacy/dp_clip.hpp"
#include "fl/round_updates.hpp"
#include "fl/secagg/model_registry.hpp"
#include "fl/secagg/prg.hpp"

using namespace flotilla;
namespace sa = flotilla::fl::secagg;
using bytes = std::vector<std::uint8_t>;

namespace {

std::vector<float> random_model(std::size_t n, std::uint64_t seed, float scale) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v)
    x = d(g);
  return v;
}

struct member_update {
  std::uint32_t id;
  std::uint64_t samples;
  std::vector<float> weights;
};

// One secure round over secure_sessions, every message through its bytes; `crash_after_mask`
// members answer nothing after their masked input. Returns the unmasked sum and the survivors.
std::pair<std::vector<std::int64_t>, std::vector<std::uint32_t>>
secure_round(std::vector<actors::secure_sessions>& members, const std::vector<std::uint32_t>& ids,
             const std::vector<std::uint8_t>& bits, std::uint64_t session, const std::vector<float>& model,
             const std::set<std::uint32_t>& crash_after_mask = {}, std::size_t extra = 0,
             std::optional<sa::digest32> hash = std::nullopt) {
  std::vector<actors::secure_member> roster;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    actors::secure_member m;
    m.who.id = ids[i];
    m.bits = bits[i];
    roster.push_back(m);
  }
  sa::params p;
  p.members = ids;
  p.bits = *actors::ring_bits(roster);
  p.length = model.size() + extra; // privacy.adaptive_clip: the clipped count after the update
  p.model_hash = hash ? *hash : actors::model_digest(model);
  p.round_context = actors::round_context_of(session); // members check it against the session
  sa::secagg_server server(p);
  auto setup = sa::round_setup{p}.to_bytes();
  for (std::size_t i = 0; i < ids.size(); ++i)
    server.receive(sa::advertise_keys::from_bytes(members[i].step(session, 0, setup)));
  auto keys = server.close_advertise().to_bytes();
  for (std::size_t i = 0; i < ids.size(); ++i)
    server.receive(sa::share_keys::from_bytes(members[i].step(session, 1, keys)));
  auto routed = server.close_share_keys();
  for (std::size_t i = 0; i < ids.size(); ++i)
    server.receive(sa::masked_input::from_bytes(members[i].step(session, 2, routed.at(ids[i]).to_bytes())));
  auto request = server.close_masked_input().to_bytes();
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (!crash_after_mask.count(ids[i]))
      server.receive(sa::unmask_response::from_bytes(members[i].step(session, 3, request)));
  auto ring = server.finish();
  std::vector<std::int64_t> sum(ring.size());
  for (std::size_t i = 0; i < ring.size(); ++i)
    sum[i] = sa::from_ring(ring[i], p.bits);
  return {sum, server.survivors()};
}

std::vector<float> clear_mean(const std::vector<member_update>& updates, std::size_t n) {
  fl::round_updates clear(n, false);
  for (const auto& u : updates)
    REQUIRE(clear.accept({u.id, u.samples, 0.5, std::make_shared<const std::vector<float>>(u.weights)}).empty());
  return clear.mean();
}

// The round's updates as the aggregator holds them after a secure sum: the sum and who is in it.
fl::round_updates secure_updates(const std::vector<std::int64_t>& sum, const std::vector<member_update>& updates,
                                 const std::vector<float>& model) {
  fl::round_updates secure(model.size(), false);
  std::vector<fl::client_update> summed;
  for (const auto& u : updates)
    summed.push_back({u.id, u.samples, 0.5, nullptr});
  REQUIRE(secure.accept_sum(sum, summed, model).empty());
  return secure;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

TEST_CASE("fixed_terms are the integers FedAvg sums: add_sums of them gives add's mean bit for bit") {
  const std::size_t n = 40000; // more than two of the accumulator's blocks
  auto a = random_model(n, 1, 0.3f), b = random_model(n, 2, 2.0f);
  fl::fedavg_accumulator plain(n), summed(n);
  plain.add(600, a);
  plain.add(6000, b);
  std::vector<std::int64_t> ta(n), tb(n), total(n);
  REQUIRE(fl::fixed_terms(600, a.data(), n, ta.data()) == n);
  REQUIRE(fl::fixed_terms(6000, b.data(), n, tb.data()) == n);
  for (std::size_t i = 0; i < n; ++i)
    total[i] = ta[i] + tb[i];
  summed.add_sums(total);
  summed.count_update(600);
  summed.count_update(6000);
  CHECK(same_bits(plain.mean(), summed.mean()));
  // A term at or beyond 2^62 is named by its index, not wrapped.
  std::vector<float> big{0.5f, 5e6f};
  std::vector<std::int64_t> out(2);
  CHECK(fl::fixed_terms(1000, big.data(), 2, out.data()) == 1);
  float nan = std::nanf("");
  CHECK(fl::fixed_terms(1, &nan, 1, out.data()) == 0);
}

TEST_CASE("a secure round's mean equals the mean in the clear, with a third crashing after masking") {
  const std::size_t n = 3001;
  auto model = random_model(n, 10, 0.1f);
  std::vector<member_update> updates;
  for (std::uint32_t id : {2u, 3u, 5u, 8u, 9u, 11u}) {
    auto w = model;
    auto step = random_model(n, 100 + id, 0.05f);
    for (std::size_t i = 0; i < n; ++i)
      w[i] += step[i];
    updates.push_back({id, 100u + 37u * id, w});
  }
  std::vector<actors::secure_sessions> members(updates.size());
  std::vector<std::uint32_t> ids;
  std::vector<std::uint8_t> bits;
  const std::uint64_t session = 77;
  for (std::size_t i = 0; i < updates.size(); ++i) {
    bits.push_back(members[i].keep(session, updates[i].id, updates[i].samples, model, updates[i].weights));
    ids.push_back(updates[i].id);
    CHECK(bits.back() > 20); // 2^30 grid times samples times |delta|
    CHECK(bits.back() < 42);
  }
  SUBCASE("everyone answers") {
    auto [sum, survivors] = secure_round(members, ids, bits, session, model);
    CHECK(survivors == ids);
    auto secure = secure_updates(sum, updates, model);
    CHECK(secure.count() == updates.size());
    CHECK(same_bits(secure.mean(), clear_mean(updates, n)));
    for (auto& m : members)
      CHECK(m.size() == 0); // a finished session is forgotten
  }
  SUBCASE("two of six crash after sending their masked input: their inputs are still in the sum") {
    auto [sum, survivors] = secure_round(members, ids, bits, session, model, {3u, 9u});
    CHECK(survivors == ids);
    CHECK(same_bits(secure_updates(sum, updates, model).mean(), clear_mean(updates, n)));
  }
}

TEST_CASE("a member refuses what would misuse its update, and forgets the session") {
  const std::size_t n = 64;
  auto model = random_model(n, 3, 0.1f), trained = random_model(n, 4, 0.1f);
  std::vector<actors::secure_sessions> members(4);
  std::vector<std::uint32_t> ids{0, 1, 2, 3};
  for (std::size_t i = 0; i < 4; ++i)
    members[i].keep(9, ids[i], 10, model, trained);
  sa::params p;
  p.members = ids;
  p.bits = 48;
  p.length = n;
  p.model_hash = actors::model_digest(model);
  p.round_context = actors::round_context_of(9);
  SUBCASE("another model's hash: the aggregator sent this member a model other than the registered one") {
    auto other = model;
    other[5] += 1e-3f;
    p.model_hash = actors::model_digest(other);
    CHECK_THROWS_WITH_AS(members[0].step(9, 0, sa::round_setup{p}.to_bytes()), doctest::Contains("SHA-256"),
                         sa::protocol_error);
    CHECK_FALSE(members[0].has(9));
  }
  SUBCASE("a ring too small for its input") {
    p.bits = 20;
    CHECK_THROWS_AS(members[0].step(9, 0, sa::round_setup{p}.to_bytes()), std::invalid_argument);
    CHECK_FALSE(members[0].has(9));
  }
  SUBCASE("a step out of order, an unknown session, an unknown step, hostile bytes") {
    CHECK_THROWS_WITH(members[1].step(9, 2, {}), doctest::Contains("before the round's parameters"));
    CHECK_FALSE(members[1].has(9));
    CHECK_THROWS_WITH(members[2].step(10, 0, sa::round_setup{p}.to_bytes()), doctest::Contains("no secure fit"));
    CHECK_THROWS_WITH(members[2].step(9, 4, {}), doctest::Contains("unknown step"));
    auto setup = sa::round_setup{p}.to_bytes();
    setup.resize(setup.size() - 3);
    CHECK_THROWS_WITH(members[3].step(9, 0, setup), doctest::Contains("truncated"));
  }
  SUBCASE("the parameters twice") {
    auto setup = sa::round_setup{p}.to_bytes();
    members[0].step(9, 0, setup);
    CHECK_THROWS_WITH(members[0].step(9, 0, setup), doctest::Contains("arrived twice"));
  }
  SUBCASE("a diverged update does not become a wrapped integer") {
    auto huge = trained;
    huge[7] = 9e5f;
    CHECK_THROWS_WITH(members[0].keep(11, 0, 60000, model, huge), doctest::Contains("index 7"));
  }
  SUBCASE("a newer session replaces the older one: a session that never ran holds nothing") {
    members[0].keep(12, 0, 10, model, trained);
    CHECK(members[0].size() == 1);
    CHECK_FALSE(members[0].has(9));
    CHECK(members[0].has(12));
  }
  SUBCASE("parameters below the run's privacy.min_cluster are refused") {
    actors::secure_sessions strict(4);
    strict.keep(9, 0, 10, model, trained);
    CHECK_THROWS_WITH(strict.step(9, 0, sa::round_setup{p}.to_bytes()), doctest::Contains("privacy.min_cluster is 4"));
  }
}

TEST_CASE("round_setup: its bytes round-trip, and a hostile length is refused before anything is allocated") {
  sa::params p;
  p.members = {1, 4, 6, 9};
  p.bits = 47;
  p.length = 12345;
  p.neighbours = 3;
  p.min_members = 4;
  p.round_context.fill(3);
  p.model_hash.fill(5);
  auto back = sa::round_setup::from_bytes(sa::round_setup{p}.to_bytes()).p;
  CHECK(back.members == p.members);
  CHECK(back.bits == 47);
  CHECK(back.length == 12345);
  CHECK(back.neighbours == 3);
  CHECK(back.min_members == 4);
  CHECK(back.round_context == p.round_context);
  CHECK(back.model_hash == p.model_hash);
  p.length = sa::max_length + 1;
  CHECK_THROWS_WITH(sa::round_setup::from_bytes(sa::round_setup{p}.to_bytes()), doctest::Contains("at most"));
  p.length = 10;
  p.min_members = 1;
  CHECK_THROWS_WITH(sa::checked(p), doctest::Contains("hides nobody"));
  p.min_members = 5;
  CHECK_THROWS_WITH(sa::checked(p), doctest::Contains("at least 5"));
}

TEST_CASE("ring_bits: the sum of the members' largest magnitudes, refused beyond 64 bits") {
  std::vector<actors::secure_member> m(3);
  m[0].bits = 40;
  m[1].bits = 40;
  m[2].bits = 38;
  CHECK(*actors::ring_bits(m) == sa::bits_for_sum(2 * ((std::uint64_t{1} << 40) - 1) + (std::uint64_t{1} << 38) - 1));
  m[0].bits = m[1].bits = m[2].bits = 62;
  CHECK_FALSE(actors::ring_bits(m).has_value());
  CHECK(actors::secure_session(1, 0, -1, 3, 0) != actors::secure_session(1, 1, 0, 3, 1));
  CHECK(actors::secure_session(1, 0, -1, 3, 0) == actors::secure_session(1, 0, -1, 3, 0));
  CHECK(actors::share_group_size(7) == 0);    // everyone: plain SecAgg
  CHECK(actors::share_group_size(9) == 0);    // 2 * 4 + 1 = 9: everyone
  CHECK(actors::share_group_size(12) == 9);
  CHECK(actors::share_group_size(100) == 15); // 2 * 7 + 1
  CHECK(actors::share_group_size(1000) == 21);
}

TEST_CASE("privacy.dp=distributed: members' noise shares in the secure sum equal the aggregator adding the same "
          "shares, bit for bit") {
  const std::size_t n = 2000;
  auto model = random_model(n, 21, 0.1f);
  std::vector<member_update> updates;
  for (std::uint32_t id : {1u, 4u, 6u, 7u}) {
    auto w = model;
    auto step = random_model(n, 200 + id, 0.02f);
    for (std::size_t i = 0; i < n; ++i)
      w[i] += step[i];
    updates.push_back({id, 1, w}); // DP-FedAvg: every member counts once
  }
  const double stddev = fl::privacy::share_stddev(1.1, 0.5, updates.size());
  std::vector<actors::secure_sessions> members(updates.size());
  std::vector<std::uint32_t> ids;
  std::vector<std::uint8_t> bits;
  for (std::size_t i = 0; i < updates.size(); ++i) {
    fl::privacy::noise_key key{42, 3, 7, updates[i].id};
    bits.push_back(members[i].keep(5, updates[i].id, 1, model, updates[i].weights, stddev, key));
    ids.push_back(updates[i].id);
  }
  auto [sum, survivors] = secure_round(members, ids, bits, 5, model);
  REQUIRE(survivors == ids);
  auto distributed = secure_updates(sum, updates, model).mean();
  // Central, as the sum of the same shares: each share its own addend on the exact grid.
  fl::fedavg_accumulator central(n);
  for (const auto& u : updates) {
    central.add(1, u.weights);
    auto share = fl::privacy::noise_share({42, 3, 7, u.id}, stddev, n);
    central.add_range(1, 0, share.data(), n);
  }
  CHECK(same_bits(distributed, central.mean()));
  CHECK_FALSE(same_bits(distributed, clear_mean(updates, n))); // the noise is there
}

TEST_CASE("privacy.adaptive_clip: the secure sum's last value is the members' count within the clip, noised in "
          "shares when distributed, and the update before it is unchanged") {
  const std::size_t n = 1500;
  auto model = random_model(n, 31, 0.1f);
  std::vector<member_update> updates;
  const std::vector<bool> within{true, false, true, true, false};
  for (std::uint32_t id : {2u, 3u, 6u, 10u, 12u}) {
    auto w = model;
    auto step = random_model(n, 300 + id, 0.02f);
    for (std::size_t i = 0; i < n; ++i)
      w[i] += step[i];
    updates.push_back({id, 1, w});
  }
  const double grid = fl::fixed_scale; // fixed_terms' resolution
  auto run = [&](double count_share, std::set<std::uint32_t> crash) {
    std::vector<actors::secure_sessions> members(updates.size());
    std::vector<std::uint32_t> ids;
    std::vector<std::uint8_t> bits;
    for (std::size_t i = 0; i < updates.size(); ++i) {
      fl::privacy::noise_key key{9, 1, 4, updates[i].id};
      bits.push_back(members[i].keep(8, updates[i].id, 1, model, updates[i].weights, 0, key,
                                     {true, within[i], count_share}));
      ids.push_back(updates[i].id);
    }
    auto [sum, survivors] = secure_round(members, ids, bits, 8, model, crash, 1);
    REQUIRE(sum.size() == n + 1);
    REQUIRE(survivors == ids);
    auto count = static_cast<double>(sum.back()) / grid;
    sum.pop_back();
    CHECK(same_bits(secure_updates(sum, updates, model).mean(), clear_mean(updates, n)));
    return count;
  };
  SUBCASE("central: the exact count, also with a member crashing after masking") {
    CHECK(run(0, {}) == 3.0);
    CHECK(run(0, {6u}) == 3.0);
  }
  SUBCASE("distributed: the count plus every member's share, element n of its own noise stream") {
    const double share = 0.7;
    double noise = 0;
    for (const auto& u : updates) {
      float v = 0;
      fl::privacy::noise_share({9, 1, 4, u.id}, share, n, &v, 1);
      noise += v;
    }
    auto count = run(share, {});
    CHECK(count == doctest::Approx(3.0 + noise).epsilon(1e-9));
    CHECK(count != 3.0);
    CHECK(fl::privacy::fraction_from_noised_count(count, 5, 5) ==
          doctest::Approx(std::clamp((3.0 + noise - 2.5) / 5 + 0.5, 0.0, 1.0)));
  }
}

TEST_CASE("model registration: a member trains only on the model the coordinator signed for the round's session") {
  const sa::key32 seed{1, 2, 3};
  sa::model_registrar coordinator(sa::seeded_random(seed));
  auto model = random_model(500, 41, 0.1f);
  auto other = model;
  other[17] += 1e-3f; // one weight changed: the model-inconsistency attack sends this to one member
  const std::uint64_t session = 1234;
  auto registration = actors::register_model(coordinator, session, model);
  REQUIRE(registration.size() == 64);
  actors::secure_sessions member(3, coordinator.public_key());
  CHECK_NOTHROW(member.check_model(session, model, registration));
  auto refused = [&](const actors::secure_sessions& m, std::uint64_t s, const std::vector<float>& w,
                     const std::vector<std::uint8_t>& r, const char* why) {
    CHECK_THROWS_WITH_AS(m.check_model(s, w, r), doctest::Contains(why), sa::protocol_error);
  };
  SUBCASE("another model, another session") {
    refused(member, session, other, registration, "not the one the coordinator registered");
    refused(member, session + 1, model, registration, "not the one the coordinator registered");
  }
  SUBCASE("a registration forged by the aggregator's own key") {
    sa::model_registrar forger(sa::seeded_random(sa::key32{9}));
    refused(member, session, other, actors::register_model(forger, session, other),
            "not the one the coordinator registered");
  }
  SUBCASE("hostile bytes: none, short, long, one bit flipped") {
    refused(member, session, model, {}, "without the coordinator's registration");
    refused(member, session, model, std::vector<std::uint8_t>(63, 0), "without the coordinator's registration");
    refused(member, session, model, std::vector<std::uint8_t>(65, 0), "without the coordinator's registration");
    auto flipped = registration;
    flipped[10] ^= 1;
    refused(member, session, model, flipped, "not the one the coordinator registered");
  }
  SUBCASE("a client without the coordinator's key takes part in no secure round") {
    refused(actors::secure_sessions(3), session, model, registration, "no coordinator key");
  }
  SUBCASE("the key travels as hex") {
    auto hex = sa::key_hex(coordinator.public_key());
    CHECK(hex.size() == 64);
    CHECK(sa::key_from_hex(hex) == coordinator.public_key());
    CHECK_FALSE(sa::key_from_hex(hex.substr(1)));
    CHECK_FALSE(sa::key_from_hex(std::string(64, 'g')));
    CHECK_FALSE(sa::key_from_hex(std::string(64, 'A'))); // lowercase only, as key_hex writes it
  }
}

namespace {

// A FedBuff step as cluster 2's server at term 3 takes it (secure_session's numbers), run seed 42.
constexpr std::uint64_t run_seed = 42;
constexpr std::uint32_t phase = 1, term = 3;
constexpr std::int64_t cluster = 2;
std::uint64_t fit_session(std::uint64_t version) {
  return actors::buffered_fit_session(run_seed, phase, cluster, version);
}
std::uint64_t step_session(std::uint64_t step_version) {
  return actors::secure_session(run_seed, phase, cluster, static_cast<std::uint32_t>(step_version + 1), term);
}
actors::step_commit commit_at(std::uint64_t step_version, std::vector<actors::held_fit> fits) {
  return {step_version, phase, cluster, term, std::move(fits)};
}

} // namespace

TEST_CASE("FedBuff under secure aggregation: members weight their held updates by their own samples and staleness; "
          "the sum is the clear step's integers") {
  const std::size_t n = 2001;
  fl::async_options opts; // FedBuff's 1/sqrt(1 + staleness)
  std::map<std::uint64_t, std::vector<float>> versions{{4, random_model(n, 20, 0.1f)}, {5, random_model(n, 21, 0.1f)}};
  auto current = random_model(n, 22, 0.1f);
  const std::uint64_t step = 6;
  struct fit {
    std::uint32_t member;
    std::uint64_t version, samples, ticket;
    std::vector<float> trained;
  };
  // Member 2 is in the buffer twice, at two versions.
  std::vector<fit> fits;
  std::uint64_t ticket = 0;
  for (auto [member, version, samples] : {std::tuple{1u, 4u, 150u}, std::tuple{2u, 4u, 75u}, std::tuple{2u, 5u, 200u},
                                          std::tuple{4u, 5u, 100u}, std::tuple{7u, 4u, 50u}}) {
    auto w = versions.at(version);
    auto delta = random_model(n, 300 + ticket, 0.05f);
    for (std::size_t i = 0; i < n; ++i)
      w[i] += delta[i];
    fits.push_back({member, version, samples, ++ticket, w});
  }
  std::vector<std::uint32_t> ids{1, 2, 4, 7};
  std::vector<actors::secure_sessions> members;
  for (std::size_t i = 0; i < ids.size(); ++i)
    members.emplace_back(3, std::nullopt, run_seed, opts);
  auto at = [&](std::uint32_t id) -> actors::secure_sessions& {
    return members[std::find(ids.begin(), ids.end(), id) - ids.begin()];
  };
  for (const auto& f : fits)
    at(f.member).hold(fit_session(f.version), f.ticket, f.version, f.samples, versions.at(f.version), f.trained);
  std::vector<std::uint8_t> bits;
  for (auto id : ids) {
    std::vector<actors::held_fit> mine;
    for (const auto& f : fits)
      if (f.member == id)
        mine.push_back({fit_session(f.version), f.ticket});
    // Through the commit's bytes, as the server sends them.
    bits.push_back(at(id).commit(step_session(step), id, actors::decode_commit(actors::encode_commit(commit_at(step, mine)))));
    CHECK(at(id).holds() == 0); // committed fits are used up
  }
  auto [sum, survivors] = secure_round(members, ids, bits, step_session(step), current, {7u}, 0,
                                       actors::buffered_digest(step_session(step)));
  CHECK(survivors == ids);
  // The integers the clear step sums: each entry's weight (samples x 1024 / sqrt(1 + staleness))
  // x (trained - sent) on the exact grid.
  std::vector<std::int64_t> clear(n, 0), terms(n);
  std::vector<std::uint64_t> weights;
  for (const auto& f : fits) {
    auto weight = static_cast<std::uint64_t>(
      std::llround(static_cast<double>(f.samples) * 1024.0 / std::sqrt(1.0 + static_cast<double>(step - f.version))));
    weights.push_back(weight);
    std::vector<float> delta(n);
    for (std::size_t i = 0; i < n; ++i)
      delta[i] = f.trained[i] - versions.at(f.version)[i];
    REQUIRE(fl::fixed_terms(weight, delta.data(), n, terms.data()) == n);
    for (std::size_t i = 0; i < n; ++i)
      clear[i] += terms[i];
  }
  CHECK(sum == clear);
  // Folded in over the current model it is FedBuff's step: current + the weighted mean delta.
  fl::round_updates folded(n, false);
  std::vector<fl::client_update> entries;
  std::uint64_t total = 0;
  for (std::uint32_t e = 0; e < fits.size(); ++e) {
    entries.push_back({e, weights[e], 0.5, nullptr});
    total += weights[e];
  }
  REQUIRE(folded.accept_sum(sum, entries, current).empty());
  auto mean = folded.mean();
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double d = 0;
    for (std::size_t e = 0; e < fits.size(); ++e)
      d += static_cast<double>(weights[e]) *
           (static_cast<double>(fits[e].trained[i]) - versions.at(fits[e].version)[i]);
    worst = std::max(worst, std::abs(mean[i] - (current[i] + d / static_cast<double>(total))));
  }
  CHECK(worst < 1e-6);
}

TEST_CASE("FedBuff under secure aggregation: what a member refuses to commit") {
  const std::size_t n = 50;
  auto sent = random_model(n, 30, 0.1f), trained = random_model(n, 31, 0.1f);
  fl::async_options opts;
  opts.max_staleness = 3;
  actors::secure_sessions m(3, std::nullopt, run_seed, opts);
  m.hold(fit_session(5), 1, 5, 100, sent, trained);
  auto refused = [&](std::uint64_t session, const actors::step_commit& c) {
    CHECK_THROWS_AS(m.commit(session, 3, c), sa::protocol_error);
    CHECK(!m.has(session));
  };
  SUBCASE("the step it names: committed, and the same update is never held again") {
    CHECK(m.commit(step_session(6), 3, commit_at(6, {{fit_session(5), 1}})) > 0);
    CHECK(m.has(step_session(6)));
    // A server that sends the same version again gets the same update trained: not held twice.
    CHECK_THROWS_WITH_AS(m.hold(fit_session(5), 2, 5, 100, sent, trained), doctest::Contains("already committed"),
                         sa::protocol_error);
    CHECK(m.holds() == 0);
  }
  SUBCASE("a session that is not the step the commit names uses the fits up: no retry with another version") {
    refused(step_session(7), commit_at(6, {{fit_session(5), 1}}));
    CHECK(m.holds() == 0);
    refused(step_session(6), commit_at(6, {{fit_session(5), 1}}));
    CHECK_THROWS_AS(m.hold(fit_session(5), 2, 5, 100, sent, trained), sa::protocol_error);
  }
  SUBCASE("a fit it does not hold, another ticket, or one named twice: refused, and the named fits are used up") {
    refused(step_session(6), commit_at(6, {{fit_session(4), 1}})); // never held: nothing to use up
    CHECK(m.holds() == 1);
    refused(step_session(6), commit_at(6, {{fit_session(5), 2}})); // another ticket
    CHECK(m.holds() == 0);
    m.hold(fit_session(6), 1, 6, 100, sent, trained);
    refused(step_session(6), commit_at(6, {{fit_session(6), 1}, {fit_session(6), 1}}));
    CHECK(m.holds() == 0);
  }
  SUBCASE("a fit of another aggregation point, of a later version, or staler than max_staleness") {
    auto other = actors::buffered_fit_session(run_seed, phase, cluster + 1, 5);
    m.hold(other, 2, 5, 100, sent, trained);
    refused(step_session(6), commit_at(6, {{other, 2}}));
    refused(step_session(4), commit_at(4, {{fit_session(5), 1}})); // version 5 folded into step 5
    m.hold(fit_session(2), 3, 2, 100, sent, trained);
    refused(step_session(6), commit_at(6, {{fit_session(2), 3}})); // staleness 4 > 3
  }
  SUBCASE("a newer fit of the same session replaces the held one") {
    m.hold(fit_session(5), 9, 5, 100, sent, trained);
    CHECK(m.holds() == 1);
    CHECK(m.commit(step_session(6), 3, commit_at(6, {{fit_session(5), 9}})) > 0);
  }
  SUBCASE("a diverged update is refused without naming its values or where they are") {
    auto big = sent;
    big[7] += 1e7f;
    m.hold(fit_session(4), 2, 4, 60000, sent, big);
    try {
      m.commit(step_session(6), 3, commit_at(6, {{fit_session(4), 2}}));
      FAIL("a diverged update was committed");
    } catch (const std::invalid_argument& e) {
      std::string why = e.what();
      CHECK(why.find("diverged") != std::string::npos);
      CHECK(why.find('7') == std::string::npos); // neither the index nor the value
      CHECK(why.find("1e+07") == std::string::npos);
    }
  }
  SUBCASE("a hold of another size or with a non-finite weight is refused") {
    CHECK_THROWS_AS(m.hold(fit_session(6), 2, 6, 100, sent, std::vector<float>(n + 1)), std::invalid_argument);
    auto nan = trained;
    nan[3] = std::nanf("");
    CHECK_THROWS_AS(m.hold(fit_session(6), 2, 6, 100, sent, nan), std::invalid_argument);
    CHECK(m.holds() == 1);
  }
  SUBCASE("at most max_holds are kept: the oldest goes first") {
    for (std::uint64_t v = 6; v < 6 + actors::secure_sessions::max_holds; ++v)
      m.hold(fit_session(v), 1, v, 100, sent, trained);
    CHECK(m.holds() == actors::secure_sessions::max_holds);
    refused(step_session(6), commit_at(6, {{fit_session(5), 1}}));
    CHECK(m.commit(step_session(6), 3, commit_at(6, {{fit_session(6), 1}})) > 0);
  }
  SUBCASE("a commit's hostile bytes are refused before anything is allocated for them") {
    CHECK_THROWS_AS(actors::decode_commit({}), sa::protocol_error);
    CHECK_THROWS_AS(actors::decode_commit(bytes(32)), sa::protocol_error); // no fit
    CHECK_THROWS_AS(actors::decode_commit(bytes(47)), sa::protocol_error);
    CHECK_THROWS_AS(actors::decode_commit(bytes(49)), sa::protocol_error);
    CHECK_THROWS_AS(actors::decode_commit(bytes(32 + 16 * (actors::secure_sessions::max_holds + 1), 1)),
                    sa::protocol_error);
    CHECK_THROWS_AS(actors::decode_commit(actors::encode_commit(commit_at(6, {{5, 0}}))), sa::protocol_error);
    auto bad_phase = commit_at(6, {{5, 1}});
    bad_phase.phase = 2;
    CHECK_THROWS_AS(actors::decode_commit(actors::encode_commit(bad_phase)), sa::protocol_error);
    auto back = actors::decode_commit(actors::encode_commit(commit_at(~0ull, {{5, 1}, {~0ull, 2}})));
    CHECK((back.step_version == ~0ull && back.phase == phase && back.cluster == cluster && back.term == term));
    REQUIRE(back.fits.size() == 2);
    CHECK((back.fits[1].fit_session == ~0ull && back.fits[1].ticket == 2));
    auto none = commit_at(6, {{5, 1}});
    none.cluster = -1; // the coordinator's steps
    CHECK(actors::decode_commit(actors::encode_commit(none)).cluster == -1);
  }
  SUBCASE("the protocol's parameters must be the session's: one run never mixes two sessions") {
    REQUIRE(m.commit(step_session(6), 3, commit_at(6, {{fit_session(5), 1}})) > 0);
    sa::params p;
    p.members = {1, 2, 3};
    p.bits = 40;
    p.length = n;
    p.model_hash = actors::buffered_digest(step_session(6));
    p.round_context = actors::round_context_of(step_session(7));
    CHECK_THROWS_WITH_AS(m.step(step_session(6), 0, sa::round_setup{p}.to_bytes()),
                         doctest::Contains("belong to another session"), sa::protocol_error);
    CHECK(!m.has(step_session(6)));
  }
}
