// Every strategy against values worked out by hand on small vectors, state across two rounds
// included.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "fl/strategies/fedopt.hpp"
#include "fl/strategies/krum.hpp"
#include "fl/strategy.hpp"

using namespace flotilla;
using doctest::Approx;

namespace {

fl::strategy_options options(const std::string& name) {
  fl::strategy_options o;
  o.name = name;
  o.knobs["server_lr"] = 0.1;
  o.knobs["server_momentum"] = 0.5;
  o.knobs["proximal_mu"] = 0.01;
  o.knobs["beta1"] = 0.9;
  o.knobs["beta2"] = 0.99;
  o.knobs["tau"] = 1e-3;
  o.knobs["trim_fraction"] = 0.2;
  o.knobs["byzantine"] = 1;
  o.knobs["multi_krum"] = 1;
  return o;
}

fl::client_update update(std::uint32_t id, std::uint64_t samples, std::vector<float> w) {
  return {id, samples, 0.5, std::make_shared<const std::vector<float>>(std::move(w))};
}

// Two clients: (1 sample, [2, 0]) and (3 samples, [4, 2]); their weighted mean is [3.5, 1.5].
fl::round_updates two_clients(bool keep) {
  fl::round_updates u(2, keep);
  REQUIRE(u.accept(update(1, 3, {4, 2})).empty());
  REQUIRE(u.accept(update(0, 1, {2, 0})).empty());
  return u;
}

// One coordinate per client: values[i] from client i, one sample each.
fl::round_updates scalars(const std::vector<float>& values) {
  fl::round_updates u(1, true);
  for (std::uint32_t i = 0; i < values.size(); ++i)
    REQUIRE(u.accept(update(i, 1, {values[i]})).empty());
  return u;
}

std::vector<float> step(fl::strategy& s, std::uint32_t round, const std::vector<float>& current,
                        const fl::round_updates& u) {
  return s.aggregate_fit(round, current, u, {});
}

} // namespace

TEST_CASE("fedavg is the sample-weighted mean and keeps no state") {
  auto s = fl::make_strategy(options("fedavg"));
  auto next = step(*s, 1, {1, 1}, two_clients(false));
  CHECK(next == std::vector<float>{3.5f, 1.5f});
  CHECK(s->state().buffers.empty());
  CHECK_FALSE(s->keeps_updates());
}

TEST_CASE("fedprox aggregates like fedavg and sends mu with every fit") {
  auto s = fl::make_strategy(options("fedprox"));
  CHECK(step(*s, 1, {1, 1}, two_clients(false)) == std::vector<float>{3.5f, 1.5f});
  auto plan = s->configure_fit(4, {0, 1, 2}, 1.0, 7);
  CHECK(plan.participants == std::vector<std::uint32_t>{0, 1, 2});
  CHECK(plan.config.round == 4);
  CHECK(plan.config.values == std::map<std::string, double>{{"proximal_mu", 0.01}});
  CHECK(plan.config.value("proximal_mu", 0) == 0.01);
  // Strategies without client-side knobs send none: the client trains with its own settings.
  CHECK(fl::make_strategy(options("fedavg"))->configure_fit(4, {0}, 1.0, 7).config.values.empty());
}

TEST_CASE("fedavgm moves by server momentum on the pseudo-gradient, across rounds") {
  auto o = options("fedavgm");
  o.knobs["server_lr"] = 1.0;
  auto s = fl::make_strategy(o);
  // Round 1: d = w - mean = [-2.5, -0.5]; v = d; w' = w - v = [3.5, 1.5].
  auto w1 = step(*s, 1, {1, 1}, two_clients(false));
  CHECK(w1[0] == Approx(3.5));
  CHECK(w1[1] == Approx(1.5));
  // Round 2 from [3.5, 1.5] with the same updates: d = 0; v = 0.5 * v = [-1.25, -0.25];
  // w'' = w' - v = [4.75, 1.75]: momentum keeps moving.
  auto w2 = step(*s, 2, w1, two_clients(false));
  CHECK(w2[0] == Approx(4.75));
  CHECK(w2[1] == Approx(1.75));
  auto st = s->state();
  CHECK(st.steps == 2);
  REQUIRE(st.buffers.size() == 1);
  CHECK(st.buffers[0][0] == Approx(-1.25));
}

TEST_CASE("fedavgm takes server_lr 1 when the configuration leaves it at 0") {
  auto o = options("fedavgm");
  o.knobs["server_lr"] = 0;
  o.knobs["server_momentum"] = 0;
  auto s = fl::make_strategy(o);
  auto w = step(*s, 1, {1, 1}, two_clients(false));
  CHECK(w[0] == Approx(3.5)); // momentum 0, lr 1: FedAvg
}

TEST_CASE("fedadam, fedadagrad and fedyogi follow Reddi et al.'s server update") {
  // d = mean - w = [2.5, 0.5]; m = 0.1 d = [0.25, 0.05]; v starts at tau^2 = 1e-6.
  const double tau2 = 1e-6;
  SUBCASE("fedadam, two rounds") {
    auto s = fl::make_strategy(options("fedadam"));
    auto w1 = step(*s, 1, {1, 1}, two_clients(false));
    // v = 0.99 tau^2 + 0.01 d^2; w' = w + 0.1 m / (sqrt(v) + tau)
    double v0 = 0.99 * tau2 + 0.01 * 6.25, v1 = 0.99 * tau2 + 0.01 * 0.25;
    CHECK(w1[0] == Approx(1 + 0.1 * 0.25 / (std::sqrt(v0) + 1e-3)));
    CHECK(w1[1] == Approx(1 + 0.1 * 0.05 / (std::sqrt(v1) + 1e-3)));
    CHECK(w1[0] == Approx(1.09960079));
    // Round 2: d = 3.5 - 1.0996008 = 2.4003992; m = 0.9 * 0.25 + 0.1 d; v = 0.99 v + 0.01 d^2.
    auto w2 = step(*s, 2, w1, two_clients(false));
    double d = 3.5 - w1[0], m = 0.9 * 0.25 + 0.1 * d, v = 0.99 * v0 + 0.01 * d * d;
    CHECK(w2[0] == Approx(w1[0] + 0.1 * m / (std::sqrt(v) + 1e-3)));
    CHECK(w2[0] == Approx(1.23374152));
    CHECK(s->state().buffers.size() == 2);
  }
  SUBCASE("fedadagrad: v accumulates d^2") {
    auto s = fl::make_strategy(options("fedadagrad"));
    auto w1 = step(*s, 1, {1, 1}, two_clients(false));
    CHECK(w1[0] == Approx(1 + 0.1 * 0.25 / (std::sqrt(tau2 + 6.25) + 1e-3)));
    auto w2 = step(*s, 2, w1, two_clients(false));
    double d = 3.5 - w1[0], m = 0.9 * 0.25 + 0.1 * d, v = tau2 + 6.25 + d * d;
    CHECK(w2[0] == Approx(w1[0] + 0.1 * m / (std::sqrt(v) + 1e-3)));
  }
  SUBCASE("fedyogi: v grows by (1 - beta2) d^2 while below d^2") {
    auto s = fl::make_strategy(options("fedyogi"));
    auto w1 = step(*s, 1, {1, 1}, two_clients(false));
    double v0 = tau2 + 0.01 * 6.25;
    CHECK(w1[0] == Approx(1 + 0.1 * 0.25 / (std::sqrt(v0) + 1e-3)));
    auto w2 = step(*s, 2, w1, two_clients(false));
    double d = 3.5 - w1[0], m = 0.9 * 0.25 + 0.1 * d, v = v0 + 0.01 * d * d;
    CHECK(w2[0] == Approx(w1[0] + 0.1 * m / (std::sqrt(v) + 1e-3)));
    CHECK(w2[0] == Approx(1.23339307));
  }
}

TEST_CASE("the server optimizers take their own server_lr when the configuration leaves it at 0") {
  auto with_lr = [](const std::string& name, double lr) {
    auto o = options(name);
    o.knobs["server_lr"] = lr;
    return fl::make_strategy(o)->options().knob("server_lr");
  };
  CHECK(with_lr("fedadagrad", 0) == fl::fedopt::default_adagrad_server_lr);
  CHECK(with_lr("fedadam", 0) == fl::fedopt::default_server_lr);
  CHECK(with_lr("fedyogi", 0) == fl::fedopt::default_server_lr);
  CHECK(fl::fedopt::default_adagrad_server_lr > fl::fedopt::default_server_lr);
  CHECK(with_lr("fedadagrad", 0.02) == 0.02); // a configured rate is kept
  // The default is the one the update uses: d = [2.5, 0.5], m = 0.1 d, v = tau^2 + d^2.
  auto o = options("fedadagrad");
  o.knobs["server_lr"] = 0;
  auto w1 = step(*fl::make_strategy(o), 1, {1, 1}, two_clients(false));
  CHECK(w1[0] == Approx(1 + 0.1 * 0.25 / (std::sqrt(1e-6 + 6.25) + 1e-3)));
}

TEST_CASE("a restored strategy continues exactly where the saved one stopped") {
  auto a = fl::make_strategy(options("fedadam"));
  auto w1 = step(*a, 1, {1, 1}, two_clients(false));
  auto saved = a->state();
  auto b = fl::make_strategy(options("fedadam"));
  b->restore(saved);
  CHECK(step(*a, 2, w1, two_clients(false)) == step(*b, 2, w1, two_clients(false)));
  auto c = fl::make_strategy(options("fedavgm"));
  CHECK_THROWS_WITH_AS(c->restore(saved), "the saved strategy state belongs to 'fedadam', not 'fedavgm'",
                       fl::strategy_error);
}

TEST_CASE("a saved state that does not fit the model is refused when it is restored, not at a later round") {
  auto saved = fl::make_strategy(options("fedadam"))->state(); // before any round: no buffers
  CHECK(saved.buffers.empty());
  CHECK_NOTHROW(fl::make_strategy(options("fedadam"))->restore(saved, 80202));
  auto a = fl::make_strategy(options("fedadam"));
  step(*a, 1, {1, 1}, two_clients(false));
  auto two = a->state(); // m and v of a 2-weight model
  CHECK_NOTHROW(fl::make_strategy(options("fedadam"))->restore(two, 2));
  SUBCASE("buffers of another size than the model") {
    CHECK_THROWS_WITH_AS(fl::make_strategy(options("fedadam"))->restore(two, 3),
                         "fedadam: the saved buffer 'm' has 2 values, the model 3 weights", fl::strategy_error);
    auto uneven = two;
    uneven.buffers[1].push_back(0);
    CHECK_THROWS_WITH_AS(fl::make_strategy(options("fedadam"))->restore(uneven, 2),
                         "fedadam: the saved buffer 'v' has 3 values, the model 2 weights", fl::strategy_error);
    // Without the model's size, the buffers must still agree with each other.
    CHECK_THROWS_WITH_AS(fl::make_strategy(options("fedadam"))->restore(uneven),
                         "fedadam: the saved buffer 'v' has 3 values, the model 2 weights", fl::strategy_error);
  }
  SUBCASE("another number of buffers") {
    auto one = two;
    one.buffers.pop_back();
    CHECK_THROWS_WITH_AS(fl::make_strategy(options("fedadam"))->restore(one, 2),
                         "fedadam keeps 2 buffers (m, v) or none, but the saved state has 1", fl::strategy_error);
    fl::strategy_state velocity{"fedavgm", 1, {{1, 2}, {3, 4}}};
    CHECK_THROWS_WITH_AS(fl::make_strategy(options("fedavgm"))->restore(velocity, 2),
                         "fedavgm keeps 1 buffer (velocity) or none, but the saved state has 2", fl::strategy_error);
    fl::strategy_state stateless{"median", 0, {{1, 2}}};
    CHECK_THROWS_WITH_AS(fl::make_strategy(options("median"))->restore(stateless, 2),
                         "median keeps no state, but the saved state has 1 buffer", fl::strategy_error);
  }
  SUBCASE("a value that is not finite") {
    auto nan = two;
    nan.buffers[0][1] = NAN;
    CHECK_THROWS_WITH_AS(fl::make_strategy(options("fedadam"))->restore(nan, 2),
                         "fedadam: the saved buffer 'm' has a non-finite value at index 1", fl::strategy_error);
  }
}

TEST_CASE("a round size the strategy can never aggregate is known before anyone trains") {
  auto o = options("krum");
  o.knobs["byzantine"] = 2;
  auto krum = fl::make_strategy(o);
  CHECK(krum->cannot_ever_aggregate(7).empty());
  CHECK(krum->cannot_ever_aggregate(0).empty()); // nobody to ask is the round engine's to say
  CHECK(krum->cannot_ever_aggregate(6) == "Krum with f = 2 needs at least 7 updates per round (n >= 2f + 3), but the "
                                          "round asks 6 clients; lower strategy.byzantine to at most 1");
  o.knobs["byzantine"] = 0;
  CHECK(fl::make_strategy(o)->cannot_ever_aggregate(2) ==
        "Krum with f = 0 needs at least 3 updates per round (n >= 2f + 3), but the round asks 2 clients; Krum needs "
        "at least 3 clients per round, even with strategy.byzantine = 0");
  o.knobs["multi_krum"] = 100;
  CHECK(fl::make_strategy(o)->cannot_ever_aggregate(4) ==
        "Multi-Krum m = 100 must be 1 to n - f = 4 for a round of 4 clients; lower strategy.multi_krum");
  auto t = options("trimmed_mean");
  t.knobs["trim_fraction"] = 0.49; // the most the declaration allows never cuts everything
  for (std::size_t n = 1; n < 200; ++n)
    CHECK(fl::make_strategy(t)->cannot_ever_aggregate(n).empty());
  for (const auto& name : {"fedavg", "fedavgm", "fedprox", "fedadam", "median", "trimmed_mean"})
    CHECK(fl::make_strategy(options(name))->cannot_ever_aggregate(1).empty());
  CHECK(fl::participants_of(10, 0.3) == 3);
  CHECK(fl::participants_of(10, 1.0) == 10);
  CHECK(fl::participants_of(10, 0.01) == 1);
  CHECK(fl::participants_of(0, 0.5) == 0);
}

TEST_CASE("median takes the middle value per coordinate, unweighted") {
  auto s = fl::make_strategy(options("median"));
  CHECK(s->keeps_updates());
  CHECK(step(*s, 1, {0}, scalars({1, 5, 2})) == std::vector<float>{2});
  CHECK(step(*s, 1, {0}, scalars({1, 5, 2, 4})) == std::vector<float>{3}); // (2 + 4) / 2
  CHECK(step(*s, 1, {0}, scalars({7})) == std::vector<float>{7});
  CHECK_THROWS_WITH_AS(step(*s, 1, {0, 0}, two_clients(false)), "median needs every update, but the round streamed them",
                       fl::strategy_error);
}

TEST_CASE("trimmed mean drops the largest and smallest values per coordinate") {
  auto s = fl::make_strategy(options("trimmed_mean"));
  // 5 values, trim 0.2: one cut at each end; [-50, 1, 3, 5, 100] -> mean(1, 3, 5) = 3.
  CHECK(step(*s, 1, {0}, scalars({1, 100, 3, -50, 5})) == std::vector<float>{3});
  // 4 values: floor(0.8) = 0 cut: the plain mean.
  CHECK(step(*s, 1, {0}, scalars({1, 2, 3, 6})) == std::vector<float>{3});
  auto o = options("trimmed_mean");
  o.knobs["trim_fraction"] = 0.5; // beyond the declared range: refused before it could cut everything
  CHECK_THROWS_WITH_AS(fl::make_strategy(o),
                       "strategy trimmed_mean: strategy.trim_fraction = 0.5 is out of range; allowed: 0 to 0.49",
                       fl::strategy_error);
}

TEST_CASE("krum picks the update closest to its n - f - 2 nearest others") {
  // Points 0, 1, 2, 100, 3 with f = 1: sums of the 2 nearest squared distances are
  // 5, 2, 2, 9409 + 9604, 5; clients 1 and 2 tie and the lower id wins.
  std::vector<float> p{0, 1, 2, 100, 3};
  std::vector<const float*> pts;
  for (auto& x : p)
    pts.push_back(&x);
  CHECK(fl::krum_scores(pts, 1, 1) == std::vector<double>{5, 2, 2, 9409 + 9604, 5});
  auto s = fl::make_strategy(options("krum"));
  CHECK(step(*s, 1, {0}, scalars(p)) == std::vector<float>{1});
  SUBCASE("multi-krum averages the m best") {
    auto o = options("krum");
    o.knobs["multi_krum"] = 2;
    CHECK(step(*fl::make_strategy(o), 1, {0}, scalars(p)) == std::vector<float>{1.5});
  }
  SUBCASE("too few updates for f") {
    CHECK(s->cannot_aggregate(scalars({1, 2, 3, 4})) ==
          "Krum with f = 1 needs at least 5 updates, the round has 4");
  }
}

TEST_CASE("configure_fit samples a seeded share of the available clients") {
  auto s = fl::make_strategy(options("fedavg"));
  std::vector<std::uint32_t> ids{3, 5, 8, 13, 21, 34, 55, 89, 144, 233};
  auto a = s->configure_fit(1, ids, 0.3, 11).participants;
  CHECK(a.size() == 3);
  CHECK(std::is_sorted(a.begin(), a.end()));
  CHECK(a == s->configure_fit(1, ids, 0.3, 11).participants);
  bool differs = false;
  for (std::uint64_t seed = 12; seed < 20 && !differs; ++seed)
    differs = s->configure_fit(1, ids, 0.3, seed).participants != a;
  CHECK(differs);
  for (auto id : a)
    CHECK(std::find(ids.begin(), ids.end(), id) != ids.end());
}

TEST_CASE("make_strategy refuses an unknown name") {
  CHECK_THROWS_WITH_AS(fl::make_strategy(options("fedsgd")), "unknown strategy 'fedsgd'", fl::strategy_error);
  for (const auto& name : fl::strategy_names())
    CHECK(fl::make_strategy(options(name))->options().name == name);
}

TEST_CASE("round updates refuse bad and duplicate updates and sum the loss in id order") {
  fl::round_updates u(2, false);
  CHECK(u.accept(update(0, 1, {1, NAN})) == "update has a non-finite weight (nan) at index 1");
  CHECK(u.accept(update(0, 1, {1})) == "update has 1 weights, the model has 2");
  CHECK(u.accept(update(0, 2, {1, 1})).empty());
  CHECK(u.accept(update(0, 2, {1, 1})) == "a second update from client 0 in the same round");
  auto bad_loss = update(1, 1, {1, 1});
  bad_loss.train_loss = INFINITY;
  CHECK(u.accept(bad_loss) == "update reports a non-finite training loss");
  CHECK(u.count() == 1);
  CHECK(u.kept().empty());
}

TEST_CASE("each strategy declares its knobs once; make_strategy checks them against the declaration") {
  // Which knobs each reads (the configuration carries all of them to every strategy).
  auto keys = [](const std::string& name) {
    std::vector<std::string> out;
    for (const auto& k : fl::knobs_of(name))
      out.push_back(k.key);
    return out;
  };
  using names = std::vector<std::string>;
  CHECK(keys("fedavg").empty());
  CHECK(keys("median").empty());
  CHECK(keys("fedavgm") == names{"server_lr", "server_momentum"});
  CHECK(keys("fedprox") == names{"proximal_mu"});
  CHECK(keys("fedadagrad") == names{"server_lr", "beta1", "tau"});
  CHECK(keys("fedadam") == names{"server_lr", "beta1", "beta2", "tau"});
  CHECK(keys("fedyogi") == names{"server_lr", "beta1", "beta2", "tau"});
  CHECK(keys("trimmed_mean") == names{"trim_fraction"});
  CHECK(keys("krum") == names{"byzantine", "multi_krum"});
  CHECK_THROWS_WITH_AS(fl::knobs_of("fedsgd"), "unknown strategy 'fedsgd'", fl::strategy_error);
  // The union, one declaration per key (declarations of one key agree, or all_knobs throws).
  REQUIRE_NOTHROW(fl::all_knobs());
  CHECK(fl::all_knobs().size() == 9);
  for (const auto& k : fl::all_knobs()) {
    CHECK_MESSAGE(!k.meaning.empty(), k.key);
    CHECK_MESSAGE(fl::knob_problem(k, k.default_value).empty(), k.key);
    CHECK(fl::find_knob(k.key) != nullptr);
  }
  CHECK(fl::find_knob("momentum") == nullptr);
  for (const auto& name : fl::strategy_names())
    CHECK_NOTHROW(fl::make_strategy(fl::default_options(name)));

  SUBCASE("a knob the strategy reads must be set") {
    auto o = fl::default_options("krum");
    o.knobs.erase("multi_krum");
    CHECK_THROWS_WITH_AS(fl::make_strategy(o), "strategy krum: knob 'multi_krum' (strategy.multi_krum) is not set",
                         fl::strategy_error);
    // ... but not one of another strategy's.
    auto f = fl::default_options("fedavg");
    f.knobs.clear();
    CHECK_NOTHROW(fl::make_strategy(f));
    CHECK_THROWS_WITH_AS(f.knob("server_lr"), "strategy fedavg: knob 'server_lr' (strategy.server_lr) is not set",
                         fl::strategy_error);
  }
  SUBCASE("in its declared range, whole where it counts") {
    auto o = fl::default_options("krum");
    o.knobs["byzantine"] = 1.5;
    CHECK_THROWS_WITH_AS(fl::make_strategy(o), "strategy krum: strategy.byzantine = 1.5 is not a whole number",
                         fl::strategy_error);
    o.knobs["byzantine"] = -1;
    CHECK_THROWS_WITH_AS(fl::make_strategy(o), "strategy krum: strategy.byzantine = -1 is out of range; allowed: 0 to 100000",
                         fl::strategy_error);
    auto a = fl::default_options("fedadam");
    a.knobs["tau"] = NAN;
    CHECK_THROWS_WITH_AS(fl::make_strategy(a), "strategy fedadam: strategy.tau = nan is out of range; allowed: 1e-12 to 10",
                         fl::strategy_error);
    // Another strategy's knob is not this one's business: fedadagrad does not read beta2.
    auto g = fl::default_options("fedadagrad");
    g.knobs["beta2"] = 7;
    CHECK_NOTHROW(fl::make_strategy(g));
  }
  SUBCASE("a key no strategy declares is refused") {
    auto o = fl::default_options("fedavg");
    o.knobs["server_lrr"] = 1;
    CHECK_THROWS_WITH_AS(fl::make_strategy(o), "strategy fedavg: 'server_lrr' is not a knob of any strategy",
                         fl::strategy_error);
  }
}

TEST_CASE("fit_config's positional form puts what it sets under its key") {
  fl::fit_config c{3, 2, 0.01, 0};
  CHECK(c.round == 3);
  CHECK(c.values == std::map<std::string, double>{{"epochs", 2}, {"lr", 0.01}});
  CHECK(c.value("proximal_mu", -1) == -1);
  CHECK(fl::fit_config{7}.values.empty());
}
