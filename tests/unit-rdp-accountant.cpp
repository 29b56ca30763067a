#include "fl/privacy/rdp_accountant.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

using namespace flotilla::fl::privacy;

namespace {

struct phase {
  double q;
  double sigma;
  std::uint64_t rounds;
};

struct reference {
  std::vector<phase> phases;
  double delta;
  double eps;         // Balle et al. 2020 conversion
  double eps_classic; // Mironov 2017 conversion
};

// Produced by `python3 scripts/rdp_reference.py` (stdlib only, 40-digit Decimal: the SGM's
// defining expectation integrated numerically, checked against the binomial sum at integer
// orders), over Opacus's default orders.
const std::vector<reference> references = {
    {{{0.01, 1.1, 10000}}, 1e-5, 5.631992369, 6.278710279},
    {{{0.01, 4.0, 1}}, 1e-5, 0.1030789494, 0.1859040444},
    {{{0.01, 0.5, 1}}, 1e-6, 5.336661618, 6.174239042},
    {{{0.05, 0.5, 10}}, 1e-6, 12.1683026, 13.37954678},
    {{{0.02, 1.0, 500}}, 1e-5, 3.144256475, 3.684711553},
    {{{0.1, 0.8, 100}}, 1e-5, 12.35854127, 13.48404075},
    {{{0.1, 2.0, 1000}}, 1e-6, 9.821260029, 10.59982071},
    {{{0.05, 3.0, 5000}}, 1e-6, 6.565309045, 7.180441817},
    {{{0.1, 4.0, 10000}}, 1e-5, 14.4513189, 15.45800043},
    {{{0.05, 1.0, 100}, {0.1, 1.5, 200}}, 1e-5, 6.739477053, 7.503800027},
};

struct spot {
  double q, sigma, alpha, rdp;
};

// Per-step RDP from the same script ("per-step RDP at single orders").
const std::vector<spot> spots = {
    {0.05, 1.0, 1.1, 2.157096171125e-03},  {0.05, 1.0, 1.5, 3.054325603170e-03},
    {0.05, 1.0, 2.0, 4.286504370419e-03},  {0.05, 1.0, 2.5, 5.672533637290e-03},
    {0.05, 1.0, 4.7, 1.586226676806e-02},  {0.05, 1.0, 10.9, 2.152726319198e+00},
    {0.05, 1.0, 12, 2.732275601214e+00},   {0.05, 1.0, 32, 1.290763120149e+01},
    {0.05, 1.0, 63, 2.845594946397e+01},   {0.1, 0.5, 1.1, 6.953589290251e-02},
    {0.1, 0.5, 1.5, 1.459270896805e-01},   {0.1, 0.5, 2.0, 4.291695905979e-01},
    {0.1, 0.5, 2.5, 1.288617965440e+00},   {0.1, 0.5, 4.7, 6.475098884540e+00},
    {0.1, 0.5, 10.9, 1.926483055418e+01},  {0.1, 0.5, 12, 2.148808898946e+01},
    {0.1, 0.5, 32, 6.162313796852e+01},    {0.1, 0.5, 63, 1.236602764378e+02},
    {0.01, 2.0, 1.1, 1.557822665164e-05},  {0.01, 2.0, 1.5, 2.126900935852e-05},
    {0.01, 2.0, 2.0, 2.840213832422e-05},  {0.01, 2.0, 2.5, 3.555723596120e-05},
    {0.01, 2.0, 4.7, 6.730438463292e-05},  {0.01, 2.0, 10.9, 1.591906015254e-04},
    {0.01, 2.0, 12, 1.758824050278e-04},   {0.01, 2.0, 32, 5.028946468628e-04},
    {0.01, 2.0, 63, 3.195571543015e+00},
};

rdp_accountant spend(const std::vector<phase>& phases) {
  rdp_accountant acc;
  for (const auto& p : phases) acc.add_steps(p.q, p.sigma, p.rounds);
  return acc;
}

} // namespace

TEST_CASE("the default orders are Opacus's: 1.1 to 10.9 by tenths, then 12 to 63") {
  const auto& o = default_orders();
  REQUIRE(o.size() == 151);
  CHECK(o.front() == 1.1);
  CHECK(o[8] == 1.9);
  CHECK(o[9] == 2.0);
  CHECK(o[98] == 10.9);
  CHECK(o[99] == 12.0);
  CHECK(o.back() == 63.0);
}

TEST_CASE("per-step RDP matches the independent reference at fractional and integer orders") {
  for (const auto& s : spots) {
    CAPTURE(s.q);
    CAPTURE(s.sigma);
    CAPTURE(s.alpha);
    CHECK(sgm_rdp(s.q, s.sigma, s.alpha) == doctest::Approx(s.rdp).epsilon(1e-6));
  }
}

TEST_CASE("epsilon after composition matches the independent reference within 1e-3") {
  for (const auto& r : references) {
    CAPTURE(r.phases.front().q);
    CAPTURE(r.phases.front().sigma);
    CAPTURE(r.phases.front().rounds);
    CAPTURE(r.delta);
    auto acc = spend(r.phases);
    CHECK(acc.epsilon(r.delta) == doctest::Approx(r.eps).epsilon(1e-3));
    CHECK(acc.epsilon_classic(r.delta) == doctest::Approx(r.eps_classic).epsilon(1e-3));
  }
}

TEST_CASE("the TF Privacy MNIST tutorial's published epsilon is reproduced") {
  // tensorflow/privacy tutorials/README.md: compute_dp_sgd_privacy.py --N=60000
  // --batch_size=256 --noise_multiplier=1.1 --epochs=60 --delta=1e-5 gives eps = 3.01; it used
  // the classic conversion, these orders, and ceil(60 * 60000 / 256) = 14063 steps.
  rdp_accountant acc;
  acc.add_steps(256.0 / 60000, 1.1, 14063);
  CHECK(acc.epsilon_classic(1e-5) == doctest::Approx(3.01).epsilon(0.002));
  CHECK(acc.epsilon(1e-5) < acc.epsilon_classic(1e-5));
}

TEST_CASE("sampling rate 0 spends nothing and rate 1 is the plain Gaussian mechanism") {
  SUBCASE("q = 0") {
    CHECK(sgm_log_a(0, 1.0, 2.5) == 0);
    CHECK(sgm_rdp(0, 1.0, 7) == 0);
    rdp_accountant acc;
    acc.add_steps(0, 0.7, 1000);
    for (double r : acc.state()) CHECK(r == 0);
  }
  SUBCASE("q = 1") {
    CHECK(sgm_rdp(1, 2.0, 3.0) == doctest::Approx(3.0 / 8));
    CHECK(sgm_rdp(1, 0.5, 1.5) == doctest::Approx(3.0));
  }
  SUBCASE("q just below 1 approaches the Gaussian mechanism") {
    CHECK(sgm_rdp(1 - 1e-9, 2.0, 3.0) == doctest::Approx(3.0 / 8).epsilon(1e-6));
    CHECK(sgm_rdp(1 - 1e-9, 2.0, 3.5) == doctest::Approx(3.5 / 8).epsilon(1e-6));
  }
}

TEST_CASE("RDP rounds with different q and sigma compose additively, in any order") {
  rdp_accountant ab, ba, one;
  ab.add_steps(0.05, 1.0, 3);
  ab.add_steps(0.2, 1.5, 2);
  ba.add_steps(0.2, 1.5, 2);
  ba.add_steps(0.05, 1.0, 3);
  const auto a = sgm_rdp(0.05, 1.0, default_orders());
  const auto b = sgm_rdp(0.2, 1.5, default_orders());
  CHECK(ab.state() == ba.state());
  for (std::size_t i = 0; i < a.size(); ++i)
    CHECK(ab.state()[i] == doctest::Approx(3 * a[i] + 2 * b[i]).epsilon(1e-14));
}

TEST_CASE("the Balle et al. conversion is never looser than the classic one") {
  for (const auto& r : references) {
    auto acc = spend(r.phases);
    CHECK(acc.epsilon(r.delta) <= acc.epsilon_classic(r.delta));
  }
}

TEST_CASE("an aggregation point stops before the round that would exceed its budget") {
  rdp_accountant acc;
  acc.add_steps(0.1, 1.0, 50);
  const double budget = 8.0, delta = 1e-5;
  REQUIRE(acc.epsilon(delta) < budget);
  const auto k = acc.rounds_within_budget(budget, delta, 0.1, 1.0);
  REQUIRE(k > 0);
  CHECK(acc.epsilon_after(delta, 0.1, 1.0, k) <= budget);
  CHECK(acc.epsilon_after(delta, 0.1, 1.0, k + 1) > budget);
  for (std::uint64_t i = 0; i < k; ++i) {
    REQUIRE_FALSE(acc.would_exceed(budget, delta, 0.1, 1.0));
    acc.add_steps(0.1, 1.0);
  }
  CHECK(acc.would_exceed(budget, delta, 0.1, 1.0));
  CHECK(acc.epsilon(delta) <= budget);
  CHECK(acc.rounds_within_budget(budget, delta, 0.1, 1.0) == 0);
  SUBCASE("a round that samples nobody always fits, up to the cap") {
    CHECK_FALSE(acc.would_exceed(budget, delta, 0, 1.0));
    CHECK(acc.rounds_within_budget(budget, delta, 0, 1.0, 500) == 500);
  }
}

TEST_CASE("a checkpointed state resumes bit-identically") {
  rdp_accountant live;
  live.add_steps(0.05, 1.2, 17);
  live.add_steps(0.08, 0.9, 3);
  const std::vector<double> saved = live.state();
  auto resumed = rdp_accountant::restore(saved);
  live.add_steps(0.03, 1.1, 40);
  resumed.add_steps(0.03, 1.1, 40);
  CHECK(resumed.state() == live.state());
  CHECK(resumed.epsilon(1e-5) == live.epsilon(1e-5));
}

TEST_CASE("a restored state that is not an accumulated RDP vector is refused") {
  std::vector<double> good(default_orders().size(), 0.25);
  SUBCASE("wrong size") {
    CHECK_THROWS_WITH_AS(rdp_accountant::restore(std::vector<double>(3, 0.0)),
                         "rdp_accountant: cannot resume: the checkpoint holds 3 RDP values, "
                         "expected 151 (one per order)",
                         std::invalid_argument);
  }
  SUBCASE("not finite") {
    good[4] = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH_AS(rdp_accountant::restore(good),
                         "rdp_accountant: cannot resume: the checkpoint's RDP value 4 is not "
                         "finite (nan)",
                         std::invalid_argument);
    good[4] = std::numeric_limits<double>::infinity();
    CHECK(check_rdp_state(good, good.size()) == "the checkpoint's RDP value 4 is not finite (inf)");
  }
  SUBCASE("negative") {
    good[150] = -0.5;
    CHECK_THROWS_WITH_AS(rdp_accountant::restore(good),
                         "rdp_accountant: cannot resume: the checkpoint's RDP value 150 is "
                         "negative (-0.5); RDP is never below 0",
                         std::invalid_argument);
  }
  CHECK(check_rdp_state(std::vector<double>(151, 0.0), 151).empty());
}

TEST_CASE("invalid privacy parameters are rejected with a message saying what was wrong") {
  rdp_accountant acc;
  SUBCASE("sampling rate") {
    CHECK_THROWS_WITH_AS(acc.add_steps(1.5, 1.0),
                         "rdp_accountant: sampling rate q must be in [0, 1], got 1.5",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(acc.add_steps(-0.1, 1.0),
                         "rdp_accountant: sampling rate q must be in [0, 1], got -0.1",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(acc.add_steps(std::nan(""), 1.0),
                         "rdp_accountant: sampling rate q must be in [0, 1], got nan",
                         std::invalid_argument);
  }
  SUBCASE("noise multiplier") {
    CHECK_THROWS_WITH_AS(acc.add_steps(0.1, 0),
                         "rdp_accountant: noise multiplier sigma must be positive and finite, "
                         "got 0",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(sgm_rdp(0.1, std::numeric_limits<double>::infinity(), 2.0),
                         "rdp_accountant: noise multiplier sigma must be positive and finite, "
                         "got inf",
                         std::invalid_argument);
  }
  SUBCASE("delta") {
    CHECK_THROWS_WITH_AS(acc.epsilon(0), "rdp_accountant: delta must be in (0, 1), got 0",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(acc.epsilon_classic(1), "rdp_accountant: delta must be in (0, 1), got 1",
                         std::invalid_argument);
  }
  SUBCASE("orders and budget") {
    CHECK_THROWS_WITH_AS(rdp_accountant({2.0, 1.0}),
                         "rdp_accountant: order alpha must be in (1, 10000], got 1",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(sgm_rdp(0.1, 1.0, 20000.0),
                         "rdp_accountant: order alpha must be in (1, 10000], got 20000",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(rdp_to_epsilon({2.0, 3.0}, {0.1}, 1e-5),
                         "rdp_accountant: 1 RDP values for 2 orders", std::invalid_argument);
    CHECK_THROWS_WITH_AS(acc.would_exceed(0, 1e-5, 0.1, 1.0),
                         "rdp_accountant: privacy budget epsilon must be positive, got 0",
                         std::invalid_argument);
  }
  SUBCASE("a refused step changes nothing") {
    acc.add_steps(0.1, 1.0);
    const auto before = acc.state();
    CHECK_THROWS_AS(acc.add_steps(2, 1.0), std::invalid_argument);
    CHECK(acc.state() == before);
  }
}
