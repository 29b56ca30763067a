#include "fl/aggregate.hpp"
#include "fl/privacy/dp_clip.hpp"
#include "fl/privacy/dp_noise.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

using namespace flotilla::fl;
using namespace flotilla::fl::privacy;

namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

std::vector<float> random_update(std::uint32_t seed, std::size_t n, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

} // namespace

TEST_CASE("the L2 norm is accumulated in double") {
  const std::vector<float> v{3, 4};
  CHECK(l2_norm(v.data(), v.size()) == 5.0);
  const std::vector<float> w{1, -2, 2};
  CHECK(l2_norm(w.data(), w.size()) == 3.0);
  CHECK(l2_norm(nullptr, 0) == 0.0);
}

TEST_CASE("an update within the clip norm is left untouched") {
  std::vector<float> v{3, 4};
  const auto r = clip_l2(v, 10.0);
  CHECK(r.norm == 5.0);
  CHECK(r.scale == 1.0);
  CHECK_FALSE(r.clipped());
  CHECK(v == std::vector<float>{3, 4});
}

TEST_CASE("an update beyond the clip norm is scaled to just within it") {
  std::vector<float> v{3, 4};
  const auto r = clip_l2(v, 1.0);
  // clip / norm = 0.2, less the 2^-22 margin that keeps float rounding inside the clip.
  const double scale = 0.2 * (1.0 - 1.0 / 4194304.0);
  CHECK(r.norm == 5.0);
  CHECK(r.scale == scale);
  CHECK(r.clipped());
  CHECK(v[0] == static_cast<float>(3 * scale));
  CHECK(v[1] == static_cast<float>(4 * scale));
  CHECK(v[0] == doctest::Approx(0.6).epsilon(1e-6));
  CHECK(v[1] == doctest::Approx(0.8).epsilon(1e-6));
  CHECK(l2_norm(v.data(), v.size()) <= 1.0);

  SUBCASE("for any update, the clipped norm never exceeds the clip") {
    for (std::uint32_t s = 0; s < 200; ++s) {
      auto u = random_update(s, 1000 + s, 0.01f * static_cast<float>(s + 1));
      const double clip = 0.37 + 0.01 * s;
      clip_l2(u, clip);
      CHECK(l2_norm(u.data(), u.size()) <= clip);
    }
  }
}

TEST_CASE("clipping refuses a bad clip norm and a diverged update") {
  std::vector<float> v{1, 2};
  CHECK_THROWS_WITH_AS(clip_l2(v, 0.0), "dp_clip: clip norm must be positive and finite, got 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(clip_l2(v, std::numeric_limits<double>::infinity()),
                       "dp_clip: clip norm must be positive and finite, got inf",
                       std::invalid_argument);
  std::vector<float> bad{1, std::numeric_limits<float>::quiet_NaN()};
  CHECK_THROWS_WITH_AS(clip_l2(bad, 1.0),
                       "dp_clip: the update holds NaN or infinity (norm nan); it cannot be clipped",
                       std::invalid_argument);
  std::vector<float> huge{1, std::numeric_limits<float>::infinity()};
  CHECK_THROWS_WITH_AS(clip_l2(huge, 1.0),
                       "dp_clip: the update holds NaN or infinity (norm inf); it cannot be clipped",
                       std::invalid_argument);
  CHECK(huge[0] == 1.0f);
}

TEST_CASE("adaptive clipping moves the clip geometrically towards the target quantile") {
  SUBCASE("too many updates fit: the clip shrinks") {
    // 1 * exp(-0.2 * (0.8 - 0.5)) = exp(-0.06)
    CHECK(adaptive_clip_update(1.0, 0.8, 0.5, 0.2) == doctest::Approx(0.94176453358424872));
  }
  SUBCASE("too few fit: the clip grows") {
    // 2 * exp(-0.2 * (0.2 - 0.5)) = 2 exp(0.06)
    CHECK(adaptive_clip_update(2.0, 0.2, 0.5, 0.2) == doctest::Approx(2.1236730931613512));
  }
  SUBCASE("on target, or with learning rate 0: unchanged") {
    CHECK(adaptive_clip_update(1.5, 0.5, 0.5, 0.2) == 1.5);
    CHECK(adaptive_clip_update(1.5, 0.9, 0.5, 0.0) == 1.5);
  }
  SUBCASE("bad parameters") {
    CHECK_THROWS_WITH_AS(adaptive_clip_update(1.0, 1.2, 0.5, 0.2),
                         "dp_clip: fraction below the clip must be in [0, 1], got 1.2",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(adaptive_clip_update(1.0, 0.5, -1, 0.2),
                         "dp_clip: target quantile must be in [0, 1], got -1",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(adaptive_clip_update(1.0, 0.5, 0.5, -0.2),
                         "dp_clip: clip learning rate must be >= 0 and finite, got -0.2",
                         std::invalid_argument);
  }
}

TEST_CASE("the clipped fraction is centred, noised, divided by the expected count and clamped") {
  // 7 of 10 below, no noise: 0.7.
  CHECK(noised_fraction_below(7, 10, 10, 0.0, 1.3) == doctest::Approx(0.7));
  // (7 - 5 + 2 * 0.5) / 10 + 0.5 = 0.8
  CHECK(noised_fraction_below(7, 10, 10, 2.0, 0.5) == doctest::Approx(0.8));
  // a fixed denominator: 7 of 10 when 20 were expected: (7 - 5) / 20 + 0.5 = 0.6
  CHECK(noised_fraction_below(7, 10, 20, 0.0, 0.0) == doctest::Approx(0.6));
  // clamped to [0, 1]
  CHECK(noised_fraction_below(10, 10, 10, 1.0, 5.0) == 1.0);
  CHECK(noised_fraction_below(0, 10, 10, 1.0, -5.0) == 0.0);
  CHECK_THROWS_WITH_AS(noised_fraction_below(11, 10, 10, 1.0, 0.0),
                       "dp_clip: 11 members below the clip of 10", std::invalid_argument);
  CHECK_THROWS_WITH_AS(noised_fraction_below(1, 10, 0, 1.0, 0.0),
                       "dp_clip: the expected number of members must be positive",
                       std::invalid_argument);
}

TEST_CASE("the count's privacy cost leaves a larger noise multiplier for the updates") {
  // (1^-2 - (2 * 1)^-2)^(-1/2) = 1 / sqrt(0.75)
  CHECK(update_noise_multiplier(1.0, 1.0) == doctest::Approx(1.1547005383792517));
  // the count's noise is small beside the updates' when count_stddev is large
  CHECK(update_noise_multiplier(1.0, 1000.0) == doctest::Approx(1.0).epsilon(1e-6));
  CHECK_THROWS_WITH_AS(update_noise_multiplier(1.0, 0.5),
                       "dp_clip: clipped-count noise stddev must exceed half the noise multiplier "
                       "(0.5), got 0.5; otherwise the count spends the whole budget",
                       std::invalid_argument);
}

TEST_CASE("a count noised in shares gives the fraction the central formula gives for the same noise") {
  // 7 of 10 fit; the shares summed to 2 * 0.5: as noised_fraction_below with stddev 2 and draw 0.5.
  CHECK(fraction_from_noised_count(7 + 1.0, 10, 10) == doctest::Approx(noised_fraction_below(7, 10, 10, 2.0, 0.5)));
  CHECK(fraction_from_noised_count(7, 10, 20) == doctest::Approx(0.6));
  CHECK(fraction_from_noised_count(-40, 10, 10) == 0.0);
  CHECK(fraction_from_noised_count(40, 10, 10) == 1.0);
  CHECK_THROWS_AS(fraction_from_noised_count(std::nan(""), 10, 10), std::invalid_argument);
  CHECK_THROWS_AS(fraction_from_noised_count(1, 10, 0), std::invalid_argument);
}

TEST_CASE("the count's noise: m / 20, at least the noise multiplier, so the updates keep noise") {
  CHECK(count_stddev(100, 1.0) == 5.0);  // Andrew et al.'s m / 20
  CHECK(count_stddev(10, 1.0) == 1.0);   // a small cluster: z
  CHECK(count_stddev(10, 1.3) == 1.3);
  for (std::size_t m : {1, 2, 5, 19, 20, 21, 100, 1000})
    for (double z : {0.3, 1.0, 4.0}) {
      auto zu = update_noise_multiplier(z, count_stddev(m, z)); // never throws: 2 sigma_b > z
      CHECK(zu >= z);
      CHECK(zu <= z / std::sqrt(0.75) + 1e-12); // at most 15% more noise on the updates
    }
  CHECK_THROWS_AS(count_stddev(0, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(count_stddev(10, 0.0), std::invalid_argument);
}

TEST_CASE("the next clip follows the rule, and stays after a round that counted nothing") {
  adaptive_clip_rule rule{0.5, 0.2};
  CHECK(next_clip(1.0, 0.8, rule) == adaptive_clip_update(1.0, 0.8, 0.5, 0.2));
  CHECK(next_clip(0.3, -1, rule) == 0.3);
  // Repeated rounds with every update within the clip shrink it geometrically towards them.
  double c = 1.0;
  for (int i = 0; i < 10; ++i)
    c = next_clip(c, 1.0, rule);
  CHECK(c == doctest::Approx(std::exp(-0.2 * 0.5 * 10)));
  // Driven to 0 or up without end, it stays in privacy.clip's range (no underflow to 0).
  adaptive_clip_rule down{0.0, 10.0}, up{1.0, 10.0};
  double lo = 1.0, hi = 1.0;
  for (int i = 0; i < 200; ++i) {
    lo = next_clip(lo, 1.0, down);
    hi = next_clip(hi, 0.0, up);
  }
  CHECK(lo == min_clip);
  CHECK(hi == max_clip);
}

TEST_CASE("noise is a pure function of seed, point, round, member and element index") {
  const noise_key key{42, 3, 17, 5};
  const auto a = noise_share(key, 0.5, 10001);
  const auto b = noise_share(key, 0.5, 10001);
  CHECK(same_bits(a, b));

  SUBCASE("any slice equals the same slice of a longer draw") {
    std::vector<double> full(10001), part(4097);
    standard_normals(key, 0, full.data(), full.size());
    for (std::uint64_t first : {0u, 1u, 2u, 4095u, 4096u, 5000u, 5903u}) {
      CAPTURE(first);
      standard_normals(key, first, part.data(), part.size());
      CHECK(std::memcmp(part.data(), full.data() + first, part.size() * sizeof(double)) == 0);
      std::vector<float> s(part.size());
      noise_share(key, 0.5, first, s.data(), s.size());
      CHECK(std::memcmp(s.data(), a.data() + first, s.size() * sizeof(float)) == 0);
    }
  }
  SUBCASE("a share is stddev times the standard normals, rounded to float") {
    std::vector<double> z(100);
    standard_normals(key, 0, z.data(), z.size());
    for (std::size_t i = 0; i < z.size(); ++i) CHECK(a[i] == static_cast<float>(0.5 * z[i]));
  }
  SUBCASE("every part of the key selects a different stream") {
    CHECK_FALSE(same_bits(a, noise_share({43, 3, 17, 5}, 0.5, 10001)));
    CHECK_FALSE(same_bits(a, noise_share({42, 4, 17, 5}, 0.5, 10001)));
    CHECK_FALSE(same_bits(a, noise_share({42, 3, 18, 5}, 0.5, 10001)));
    CHECK_FALSE(same_bits(a, noise_share({42, 3, 17, 6}, 0.5, 10001)));
    // swapped fields are different keys too
    CHECK_FALSE(same_bits(noise_share({1, 2, 3, 4}, 1, 64), noise_share({1, 2, 4, 3}, 1, 64)));
    CHECK(count_noise(42, 3, 17) != count_noise(42, 3, 18));
    CHECK(count_noise(42, 3, 17) == count_noise(42, 3, 17));
  }
}

TEST_CASE("a million draws have the moments of a standard normal") {
  const std::size_t n = 1000000;
  std::vector<double> z(n);
  standard_normals({7, 1, 2, 3}, 0, z.data(), n);
  double sum = 0, sum2 = 0, sum4 = 0, pairs = 0;
  std::size_t within_1 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sum += z[i];
    sum2 += z[i] * z[i];
    sum4 += z[i] * z[i] * z[i] * z[i];
    if (std::fabs(z[i]) < 1) ++within_1;
    if (i % 2 == 1) pairs += z[i - 1] * z[i]; // the two normals of one cipher block
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  // standard errors: mean 0.001, variance 0.0014, kurtosis 0.0025, P(|z| < 1) 0.0005.
  CHECK(std::fabs(mean) < 0.005);
  CHECK(var == doctest::Approx(1.0).epsilon(0.01));
  CHECK(sum4 / n == doctest::Approx(3.0).epsilon(0.02));
  CHECK(static_cast<double>(within_1) / n == doctest::Approx(0.682689).epsilon(0.005));
  CHECK(std::fabs(pairs / (n / 2)) < 0.01);
}

TEST_CASE("shares add up to noise of the full stddev") {
  CHECK(share_stddev(1.0, 2.0, 4) == 1.0);
  const std::vector<std::uint32_t> members{2, 5, 9, 11};
  const double sd = share_stddev(1.5, 1.0, members.size());
  std::vector<double> total(200000, 0.0);
  add_central_noise(total.data(), total.size(), 99, 1, 4, members, sd);
  double sum2 = 0;
  for (double t : total) sum2 += t * t;
  CHECK(std::sqrt(sum2 / total.size()) == doctest::Approx(1.5).epsilon(0.01));
}

TEST_CASE("central noise is the distributed shares added in member order, bit for bit") {
  const std::vector<std::uint32_t> members{3, 8, 21};
  const std::size_t n = 70000; // more than one 65536-element slice
  const double sd = share_stddev(1.1, 0.5, members.size());
  std::vector<double> central(n, 0.25), distributed(n, 0.25);
  add_central_noise(central.data(), n, 5, 2, 9, members, sd);
  for (auto m : members) add_noise_share(distributed.data(), n, {5, 2, 9, m}, sd);
  CHECK(same_bits(central, distributed));
  CHECK_THROWS_WITH_AS(add_central_noise(central.data(), n, 5, 2, 9, {3, 3}, sd),
                       "dp_noise: members must be in strictly increasing id order (member 3 "
                       "follows 3)",
                       std::invalid_argument);
}

TEST_CASE("through exact aggregation, central and distributed noise give the same aggregate") {
  // DP-FedAvg with uniform weights: each member's clipped update counts once (weight 1) and each
  // share is its own addend with weight W = 1 (see dp_noise.hpp).
  const std::vector<std::uint32_t> members{4, 6, 13, 30, 31};
  const std::size_t n = 5000;
  const double clip = 0.8, sd = share_stddev(1.0, clip, members.size());
  std::vector<std::vector<float>> updates;
  for (auto m : members) {
    updates.push_back(random_update(m, n, 0.05f));
    clip_l2(updates.back(), clip);
  }
  const std::uint64_t seed = 11, point = 2, round = 6;

  // Central: the point sums the updates, then adds every share (in member order).
  fedavg_accumulator central(n);
  for (const auto& u : updates) central.add(1, u);
  for_each_share(seed, point, round, members, sd, n,
                 [&](std::uint32_t, std::uint64_t at, const float* s, std::size_t len) {
                   central.add_range(1, at, s, len);
                 });

  // Distributed: each member adds its update and its own share; arrivals in another order.
  fedavg_accumulator distributed(n);
  for (std::size_t i : {3u, 0u, 4u, 2u, 1u}) {
    const auto share = noise_share({seed, point, round, members[i]}, sd, n);
    distributed.add_range(1, 0, updates[i].data(), n);
    distributed.add_range(1, 0, share.data(), n);
    distributed.count_update(1);
  }
  const auto mean = central.mean();
  CHECK(same_bits(mean, distributed.mean()));

  SUBCASE("folding the share into the float update first is not bit-equal") {
    fedavg_accumulator folded(n);
    for (std::size_t i = 0; i < members.size(); ++i) {
      auto u = updates[i];
      add_noise_share(u, {seed, point, round, members[i]}, sd);
      folded.add(1, u);
    }
    CHECK_FALSE(same_bits(mean, folded.mean()));
  }
}

TEST_CASE("noise parameters out of range are refused") {
  std::vector<float> v(4);
  CHECK_THROWS_WITH_AS(noise_share({1, 2, 3, 4}, -1.0, 4),
                       "dp_noise: noise stddev must be >= 0 and finite, got -1",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(noise_share({1, 2, 3, 4}, 1.0, std::numeric_limits<std::uint64_t>::max() - 2,
                                   v.data(), v.size()),
                       "dp_noise: element range overflows (first 18446744073709551613, 4 elements)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(share_stddev(1.0, 0.0, 3),
                       "dp_noise: clip norm must be positive and finite, got 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(share_stddev(1.0, 1.0, 0), "dp_noise: noise shares need members",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(add_central_noise(nullptr, 0, 1, 2, 3, {}, 1.0),
                       "dp_noise: central noise needs members", std::invalid_argument);
}
