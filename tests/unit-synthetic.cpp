#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/data_error.hpp"
#include "data/synthetic_fedprox.hpp"
#include "data/synthetic_leaf.hpp"

using namespace flotilla;

// Expected values below come from scripts/synthetic_reference.py, an independent numpy
// implementation of both definitions (run: /usr/bin/python3 scripts/synthetic_reference.py).

namespace {

struct user_rows {
  std::vector<float> x;
  std::vector<std::int64_t> y;
};

// Owner `u`'s rows of one split, in order.
user_rows rows_of(const data::sample_arrays& s, std::size_t features, std::uint32_t u) {
  user_rows out;
  for (std::size_t i = 0; i < s.count; ++i)
    if (s.owner[i] == u) {
      out.x.insert(out.x.end(), s.x.begin() + static_cast<long>(i * features),
                   s.x.begin() + static_cast<long>((i + 1) * features));
      out.y.push_back(s.y[i]);
    }
  return out;
}

void check_same_split(const data::sample_arrays& a, const data::sample_arrays& b) {
  CHECK(a.count == b.count);
  CHECK(a.x == b.x);
  CHECK(a.y == b.y);
  CHECK(a.owner == b.owner);
}

// Per user, over train and test: its label histogram (normalized), sample count and mean feature.
struct label_profile {
  std::vector<std::vector<double>> share;
  std::vector<std::size_t> samples;
  std::vector<double> mean_feature;
};

label_profile label_profiles(const data::federated_set& set, std::size_t users) {
  const auto features = set.sample_shape.at(0);
  label_profile p{std::vector<std::vector<double>>(users, std::vector<double>(set.classes, 0.0)),
                  std::vector<std::size_t>(users, 0), std::vector<double>(users, 0.0)};
  for (const auto* s : {&set.train, &set.test})
    for (std::size_t i = 0; i < s->count; ++i) {
      auto u = s->owner[i];
      p.share[u][static_cast<std::size_t>(s->y[i])] += 1;
      ++p.samples[u];
      for (std::size_t j = 0; j < features; ++j)
        p.mean_feature[u] += s->x[i * features + j];
    }
  for (std::size_t u = 0; u < users; ++u) {
    for (auto& v : p.share[u])
      v /= static_cast<double>(p.samples[u]);
    p.mean_feature[u] /= static_cast<double>(p.samples[u] * features);
  }
  return p;
}

double mean_max_share(const data::federated_set& set, std::size_t users) {
  auto p = label_profiles(set, users);
  double sum = 0;
  for (const auto& s : p.share)
    sum += *std::max_element(s.begin(), s.end());
  return sum / static_cast<double>(users);
}

double quantile(std::vector<std::size_t> v, double q) {
  auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return static_cast<double>(v[k]);
}

// Over pairs of users with at least 20 samples each and mean features of the same sign: mean
// total-variation distance between the label distributions of users in different groups minus
// that of users in the same group.
double same_group_gap(const label_profile& p, const std::vector<std::int32_t>& group) {
  std::vector<std::size_t> kept;
  for (std::size_t u = 0; u < group.size(); ++u)
    if (p.samples[u] >= 20)
      kept.push_back(u);
  double same = 0, other = 0;
  std::size_t n_same = 0, n_other = 0;
  for (std::size_t a = 0; a < kept.size(); ++a)
    for (std::size_t b = a + 1; b < kept.size(); ++b) {
      if (p.mean_feature[kept[a]] * p.mean_feature[kept[b]] <= 0)
        continue;
      double tv = 0;
      for (std::size_t c = 0; c < p.share[kept[a]].size(); ++c)
        tv += std::abs(p.share[kept[a]][c] - p.share[kept[b]][c]);
      tv /= 2;
      if (group[kept[a]] == group[kept[b]])
        same += tv, ++n_same;
      else
        other += tv, ++n_other;
    }
  return other / static_cast<double>(n_other) - same / static_cast<double>(n_same);
}

} // namespace

TEST_CASE("synthetic_fedprox is deterministic in its options and differs with the seed") {
  for (bool iid : {false, true}) {
    data::synthetic_fedprox_options o;
    o.alpha = 0.5, o.beta = 0.5, o.iid = iid, o.users = 30, o.seed = 7;
    auto a = data::make_synthetic_fedprox(o);
    auto b = data::make_synthetic_fedprox(o);
    check_same_split(a.train, b.train);
    check_same_split(a.test, b.test);
    o.seed = 8;
    auto c = data::make_synthetic_fedprox(o);
    CHECK(a.train.x != c.train.x);
    CHECK(a.train.y != c.train.y);
  }
}

TEST_CASE("one synthetic_fedprox user generated alone equals its rows in the whole set") {
  for (bool iid : {false, true}) {
    data::synthetic_fedprox_options o;
    o.alpha = 1, o.beta = 1, o.iid = iid, o.users = 30, o.seed = 3;
    auto whole = data::make_synthetic_fedprox(o);
    data::synthetic_fedprox_options fewer = o;
    fewer.users = 12;
    for (std::uint32_t u : {0u, 7u, 11u, 29u}) {
      auto alone = data::make_synthetic_fedprox_user(o, u);
      CHECK(alone.natural_ids == std::vector<std::string>{std::to_string(u)});
      CHECK(alone.sample_shape == std::vector<std::size_t>{60});
      CHECK(alone.classes == 10);
      CHECK(alone.train.count + alone.test.count == data::synthetic_fedprox_user_samples(o, u));
      for (const auto* s : {&alone.train, &alone.test})
        CHECK(std::all_of(s->owner.begin(), s->owner.end(), [](std::uint32_t w) { return w == 0; }));
      auto train = rows_of(whole.train, 60, u), test = rows_of(whole.test, 60, u);
      CHECK(alone.train.x == train.x);
      CHECK(alone.train.y == train.y);
      CHECK(alone.test.x == test.x);
      CHECK(alone.test.y == test.y);
      // A user's data do not depend on how many users there are.
      if (u < fewer.users) {
        auto few = data::make_synthetic_fedprox_user(fewer, u);
        CHECK(few.train.x == alone.train.x);
        CHECK(few.test.y == alone.test.y);
      }
    }
  }
}

TEST_CASE("synthetic_fedprox lays users out in order with numeric natural ids and a 90/10 split") {
  data::synthetic_fedprox_options o;
  o.users = 30, o.seed = 11;
  auto set = data::make_synthetic_fedprox(o);
  REQUIRE(set.natural_ids.size() == 30);
  for (std::uint32_t u = 0; u < 30; ++u)
    CHECK(set.natural_ids[u] == std::to_string(u)); // "10" after "9", not after "1"
  CHECK(set.true_group.empty());
  for (const auto* s : {&set.train, &set.test}) {
    CHECK(s->x.size() == s->count * 60);
    CHECK(s->y.size() == s->count);
    CHECK(std::is_sorted(s->owner.begin(), s->owner.end()));
    CHECK(std::all_of(s->y.begin(), s->y.end(), [](std::int64_t y) { return y >= 0 && y < 10; }));
  }
  for (std::uint32_t u = 0; u < 30; ++u) {
    auto n = data::synthetic_fedprox_user_samples(o, u);
    auto train = static_cast<std::size_t>(std::count(set.train.owner.begin(), set.train.owner.end(), u));
    auto test = static_cast<std::size_t>(std::count(set.test.owner.begin(), set.test.owner.end(), u));
    CHECK(n >= 50);
    CHECK(train == static_cast<std::size_t>(0.9 * static_cast<double>(n)));
    CHECK(train + test == n);
  }
}

TEST_CASE("synthetic_fedprox samples per user follow int(lognormal(4, 2)) + 50") {
  data::synthetic_fedprox_options o;
  o.users = 40000, o.seed = 5;
  std::vector<std::size_t> n(o.users);
  for (std::uint32_t u = 0; u < o.users; ++u)
    n[u] = data::synthetic_fedprox_user_samples(o, u);
  CHECK(*std::min_element(n.begin(), n.end()) >= 50);
  CHECK(*std::max_element(n.begin(), n.end()) <= data::synthetic_fedprox_max_user_samples);
  // Reference quantiles 64, 104 (= int(exp(4)) + 50), 260; standard errors over 40,000 users
  // about 0.2, 0.7 and 2.9. sigma = 1.8 or 2.2 would move the quartiles by 2 and 48.
  CHECK(std::abs(quantile(n, 0.25) - 64) <= 1);
  CHECK(std::abs(quantile(n, 0.5) - 104) <= 3);
  CHECK(std::abs(quantile(n, 0.75) - 260) <= 12);
}

TEST_CASE("a synthetic_fedprox user's samples are capped at a million") {
  // Found by a search of seed 0's 10 million users: 3 of them draw more than the cap
  // (P(exp(4 + 2z) > 999950) = 4.8e-7), users 3822786 and 5442160 the first two.
  data::synthetic_fedprox_options o;
  o.users = data::synthetic_max_users, o.seed = 0;
  for (std::uint32_t u : {3822786u, 5442160u})
    CHECK(data::synthetic_fedprox_user_samples(o, u) == data::synthetic_fedprox_max_user_samples);
  CHECK(data::synthetic_fedprox_user_samples(o, 3822785) < data::synthetic_fedprox_max_user_samples);
}

TEST_CASE("synthetic_fedprox iid features have variance j^-1.2 per dimension, unlike Synthetic(0, 0)") {
  data::synthetic_fedprox_options o;
  o.users = 200, o.seed = 2, o.iid = true;
  auto pooled_moments = [](const data::federated_set& set) {
    std::vector<double> sum(60, 0.0), sum2(60, 0.0);
    for (std::size_t i = 0; i < set.train.count; ++i)
      for (std::size_t j = 0; j < 60; ++j) {
        double x = set.train.x[i * 60 + j];
        sum[j] += x;
        sum2[j] += x * x;
      }
    auto n = static_cast<double>(set.train.count);
    std::vector<std::pair<double, double>> out;
    for (std::size_t j = 0; j < 60; ++j)
      out.emplace_back(sum[j] / n, sum2[j] / n - (sum[j] / n) * (sum[j] / n));
    return std::pair{out, n};
  };
  auto iid_set = data::make_synthetic_fedprox(o);
  auto pooled = pooled_moments(iid_set);
  const auto& iid = pooled.first;
  double n = pooled.second;
  INFO("iid pooled training samples: " << n);
  REQUIRE(n > 10000);
  for (std::size_t j = 0; j < 60; ++j) {
    double sigma = std::pow(static_cast<double>(j + 1), -1.2);
    CHECK(std::abs(iid[j].first) < 5 * std::sqrt(sigma / n));                 // v = 0
    CHECK(std::abs(iid[j].second / sigma - 1) < 5 * std::sqrt(2 / n));        // Gaussian: sd of s^2 is sigma sqrt(2/n)
  }
  // One model for all users: their label distributions differ from the pooled one by sampling
  // noise alone. Mean total variation over users with 100 samples or more: 0.053 here (at most
  // about 0.12 with ten equally likely classes); 0.38 with a model drawn per user.
  auto profiles = label_profiles(iid_set, o.users);
  std::vector<double> all(10, 0.0);
  for (std::size_t i = 0; i < iid_set.train.count; ++i)
    all[static_cast<std::size_t>(iid_set.train.y[i])] += 1.0 / n;
  double tv = 0;
  std::size_t big = 0;
  for (std::uint32_t u = 0; u < o.users; ++u)
    if (profiles.samples[u] >= 100) {
      for (std::size_t c = 0; c < 10; ++c)
        tv += std::abs(profiles.share[u][c] - all[c]) / 2;
      ++big;
    }
  tv /= static_cast<double>(big);
  INFO("mean total variation " << tv << " over " << big << " users");
  CHECK(tv < 0.15);
  // Non-iid users have means v_i ~ N(B_i, 1), so pooled variance is about 1 + j^-1.2.
  o.iid = false;
  auto non_iid = pooled_moments(data::make_synthetic_fedprox(o)).first;
  for (std::size_t j = 0; j < 60; ++j)
    CHECK(non_iid[j].second > std::pow(static_cast<double>(j + 1), -1.2) + 0.5);
}

TEST_CASE("synthetic_fedprox's beta is a standard deviation, as in FedProx's code") {
  // Synthetic(0, 2): a user's mean feature is B_i + mean_j N(0, 1) + noise, so its variance over
  // users is 4 + 1/60 (2 + 1/60 were beta a variance); sd of the estimate over 500 users 0.25.
  data::synthetic_fedprox_options o;
  o.beta = 2, o.users = 500, o.seed = 4;
  auto set = data::make_synthetic_fedprox(o);
  std::vector<double> sum(o.users, 0.0);
  std::vector<std::size_t> count(o.users, 0);
  for (std::size_t i = 0; i < set.train.count; ++i) {
    auto u = set.train.owner[i];
    for (std::size_t j = 0; j < 60; ++j)
      sum[u] += set.train.x[i * 60 + j];
    count[u] += 60;
  }
  double mean = 0, m2 = 0;
  for (std::uint32_t u = 0; u < o.users; ++u)
    mean += sum[u] / static_cast<double>(count[u]);
  mean /= o.users;
  for (std::uint32_t u = 0; u < o.users; ++u)
    m2 += std::pow(sum[u] / static_cast<double>(count[u]) - mean, 2);
  double variance = m2 / (o.users - 1);
  INFO("variance over users of the mean feature: " << variance);
  CHECK(std::abs(variance - 4.0167) < 1.0);
}

TEST_CASE("Synthetic(1, 1) skews labels per user more than Synthetic(0, 0), as the reference computes") {
  // Reference (50,000 users): mean max class share 0.8154 for (0, 0) and 0.8529 for (1, 1),
  // per-user sd 0.19, so the means of 1000 users have sd 0.006. With one seed both sets share
  // their normal draws, which makes the difference far less noisy than either mean.
  data::synthetic_fedprox_options o;
  o.users = 1000, o.seed = 9;
  double zero = mean_max_share(data::make_synthetic_fedprox(o), o.users);
  o.alpha = 1, o.beta = 1;
  double one = mean_max_share(data::make_synthetic_fedprox(o), o.users);
  INFO("mean max class share: (0, 0) " << zero << ", (1, 1) " << one);
  CHECK(std::abs(zero - 0.8154) < 0.024);
  CHECK(std::abs(one - 0.8529) < 0.024);
  CHECK(one - zero > 0.015);
}

TEST_CASE("synthetic_fedprox refuses options out of range, naming the config key") {
  auto with = [](auto change) {
    data::synthetic_fedprox_options o;
    change(o);
    return o;
  };
  auto nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (double bad : {-0.1, nan, inf}) {
    CHECK_THROWS_WITH_AS(data::make_synthetic_fedprox(with([&](auto& o) { o.alpha = bad; })),
                         doctest::Contains("data.alpha"), data::data_error);
    CHECK_THROWS_WITH_AS(data::make_synthetic_fedprox(with([&](auto& o) { o.beta = bad; })),
                         doctest::Contains("data.beta"), data::data_error);
  }
  for (std::uint32_t bad : {0u, data::synthetic_max_users + 1})
    CHECK_THROWS_WITH_AS(data::make_synthetic_fedprox(with([&](auto& o) { o.users = bad; })),
                         doctest::Contains("data.users"), data::data_error);
  CHECK_THROWS_WITH_AS(data::make_synthetic_fedprox_user(with([](auto& o) { o.alpha = -1; }), 0),
                       doctest::Contains("data.alpha"), data::data_error);
  CHECK_THROWS_AS(data::make_synthetic_fedprox_user(with([](auto& o) { o.users = 30; }), 30), std::out_of_range);
}

TEST_CASE("synthetic_leaf is deterministic and one user generated alone equals its rows") {
  data::synthetic_leaf_options o;
  o.users = 200, o.clusters = 3, o.seed = 21;
  auto whole = data::make_synthetic_leaf(o);
  auto again = data::make_synthetic_leaf(o);
  check_same_split(whole.train, again.train);
  check_same_split(whole.test, again.test);
  CHECK(whole.true_group == again.true_group);
  auto model = data::make_synthetic_leaf_model(o);
  for (std::uint32_t u : {0u, 13u, 199u}) {
    auto alone = data::make_synthetic_leaf_user(o, u);
    auto shared = data::make_synthetic_leaf_user(o, model, u);
    auto train = rows_of(whole.train, 60, u), test = rows_of(whole.test, 60, u);
    CHECK(alone.train.x == train.x);
    CHECK(alone.train.y == train.y);
    CHECK(alone.test.x == test.x);
    CHECK(alone.test.y == test.y);
    CHECK(alone.true_group == std::vector<std::int32_t>{whole.true_group[u]});
    CHECK(alone.natural_ids == std::vector<std::string>{std::to_string(u)});
    check_same_split(alone.train, shared.train);
    check_same_split(alone.test, shared.test);
  }
  o.seed = 22;
  auto other = data::make_synthetic_leaf(o);
  CHECK(other.train.x != whole.train.x);
  CHECK(other.true_group != whole.true_group);
  CHECK_THROWS_AS(data::make_synthetic_leaf_user(o, 200), std::out_of_range);
  o.clusters = 4;
  CHECK_THROWS_AS(data::make_synthetic_leaf_user(o, model, 0), std::invalid_argument);
}

TEST_CASE("synthetic_leaf records each user's cluster, uses every cluster and splits 90/10") {
  data::synthetic_leaf_options o; // LEAF's 1000 users, here in 4 clusters
  auto set = data::make_synthetic_leaf(o);
  CHECK(set.sample_shape == std::vector<std::size_t>{60});
  CHECK(set.classes == 5);
  REQUIRE(set.true_group.size() == 1000);
  REQUIRE(set.natural_ids.size() == 1000);
  CHECK(set.natural_ids[10] == "10");
  CHECK(set.natural_ids[999] == "999");
  std::vector<int> per_cluster(4, 0);
  for (auto g : set.true_group) {
    REQUIRE((g >= 0 && g < 4));
    ++per_cluster[static_cast<std::size_t>(g)];
  }
  for (int c : per_cluster)
    CHECK(std::abs(c - 250) < 60); // binomial sd 13.7
  for (std::uint32_t u = 0; u < o.users; ++u) {
    auto n = data::synthetic_leaf_user_samples(o, u);
    auto train = static_cast<std::size_t>(std::count(set.train.owner.begin(), set.train.owner.end(), u));
    auto test = static_cast<std::size_t>(std::count(set.test.owner.begin(), set.test.owner.end(), u));
    CHECK((n >= 5 && n <= 1000));
    CHECK(train == static_cast<std::size_t>(0.9 * static_cast<double>(n)));
    CHECK(train + test == n);
  }
  CHECK(std::all_of(set.train.y.begin(), set.train.y.end(), [](std::int64_t y) { return y >= 0 && y < 5; }));
}

TEST_CASE("synthetic_leaf samples per user follow LEAF's min(int(lognormal(3, 2)) + 5, 1000)") {
  data::synthetic_leaf_options o;
  o.users = 40000, o.seed = 6;
  double sum = 0, sum2 = 0;
  std::size_t at_max = 0, at_min = 0;
  for (std::uint32_t u = 0; u < o.users; ++u) {
    auto n = static_cast<double>(data::synthetic_leaf_user_samples(o, u));
    sum += n, sum2 += n * n;
    at_max += n == 1000;
    at_min += n == 5;
  }
  double mean = sum / o.users, sd = std::sqrt(sum2 / o.users - mean * mean);
  INFO("leaf samples: mean " << mean << ", sd " << sd << ", at 1000 " << at_max << ", at 5 " << at_min);
  // Reference mean 101.2244 (exact); sd of the estimate sd / sqrt(users), about 1.
  CHECK(std::abs(mean - 101.2244) < 4.5 * sd / std::sqrt(o.users));
  // P(lognormal(3, 2) >= 995) = 0.0256 and P(< 1) = Phi(-1.5) = 0.0668: sd 0.0008 and 0.0012.
  CHECK(std::abs(at_max / 40000.0 - 0.0256) < 0.0035);
  CHECK(std::abs(at_min / 40000.0 - 0.0668) < 0.0055);
}

TEST_CASE("synthetic_leaf users of one cluster have more alike label distributions than users of different clusters") {
  // Users of one cluster share w up to N(0, 0.1) noise in m. A user's logits move by B_i times
  // w's column sums (x ~ N(B_i, 1) per feature), so users whose mean features have the same sign
  // share their dominant classes when they share a cluster. The reference generator gives gaps
  // of 0.035 to 0.21 over 12 seeds, 10 to 99 times the sd of the gap under shuffled clusters.
  for (std::uint64_t seed : {0u, 1u, 2u}) {
    data::synthetic_leaf_options o;
    o.seed = seed;
    auto set = data::make_synthetic_leaf(o);
    auto profiles = label_profiles(set, o.users);
    double gap = same_group_gap(profiles, set.true_group);
    // The same users under shuffled clusters: what the gap is without cluster structure.
    auto shuffled = set.true_group;
    std::mt19937_64 rng(seed);
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    double null_gap = same_group_gap(profiles, shuffled);
    INFO("seed " << seed << ": gap " << gap << ", shuffled " << null_gap);
    CHECK(gap > 0.02);
    CHECK(std::abs(null_gap) < 0.015);
  }
}

TEST_CASE("synthetic_leaf's label skew matches the reference") {
  // Reference (40 seeds x 1000 users, 4 clusters): mean max class share 0.8929; sd over seeds
  // of one 1000-user set 0.0115, so 0.0058 for the mean of 4.
  double sum = 0;
  for (std::uint64_t seed : {10u, 11u, 12u, 13u}) {
    data::synthetic_leaf_options o;
    o.seed = seed;
    sum += mean_max_share(data::make_synthetic_leaf(o), o.users);
  }
  INFO("leaf mean max class share: " << sum / 4);
  CHECK(std::abs(sum / 4 - 0.8929) < 0.025);
}

TEST_CASE("synthetic_leaf refuses options out of range, naming the config key") {
  data::synthetic_leaf_options o;
  for (std::uint32_t bad : {0u, data::synthetic_max_users + 1}) {
    o.users = bad;
    CHECK_THROWS_WITH_AS(data::make_synthetic_leaf(o), doctest::Contains("data.users"), data::data_error);
  }
  o.users = 10;
  for (std::uint32_t bad : {0u, data::synthetic_leaf_max_clusters + 1}) {
    o.clusters = bad;
    CHECK_THROWS_WITH_AS(data::make_synthetic_leaf(o), doctest::Contains("data.clusters"), data::data_error);
    CHECK_THROWS_WITH_AS(data::make_synthetic_leaf_user(o, 0), doctest::Contains("data.clusters"),
                         data::data_error);
  }
}
