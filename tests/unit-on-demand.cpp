// Generated sets made user by user on demand (partition.scheme=natural): the same rows as the
// whole set, the same natural clients, a bounded cache.
#include <doctest/doctest.h>

#include <atomic>
#include <numeric>

#include "data/data_error.hpp"
#include "data/dataset.hpp"
#include "data/on_demand_users.hpp"
#include "data/partition.hpp"

using namespace flotilla;

namespace {

data::data_options generated(const std::string& name, bool on_demand, std::size_t train_limit = 0) {
  data::data_options o(name, "", train_limit);
  o.users = 12;
  o.alpha = 1;
  o.beta = 1;
  o.clusters = 3;
  o.seed = 5;
  o.on_demand = on_demand;
  return o;
}

// Every sample of a split, gathered in the order `order` gives (all indices when empty).
std::pair<std::vector<float>, std::vector<std::int64_t>> all_of(const data::split& s,
                                                                std::vector<std::uint32_t> order = {}) {
  if (order.empty()) {
    order.resize(s.count);
    std::iota(order.begin(), order.end(), 0u);
  }
  std::vector<float> x(order.size() * s.sample_size());
  std::vector<std::int64_t> y(order.size());
  data::gather(s, order.data(), order.size(), {}, x.data(), y.data());
  return {x, y};
}

// A split's owners row by row, whichever form it holds them in.
std::vector<std::uint32_t> owners(const data::split& s) {
  if (s.owner_offsets.empty())
    return s.owner;
  std::vector<std::uint32_t> out;
  const auto users = static_cast<std::uint32_t>(s.owner_offsets.size() - 1);
  for (std::uint32_t u = 0; u < users; ++u)
    out.insert(out.end(), s.owner_offsets[u + 1] - s.owner_offsets[u], u);
  out.resize(s.count, users); // rows past the last user's belong to nobody (data.train_limit)
  return out;
}

} // namespace

TEST_CASE("a generated set made on demand holds no rows up front and gathers the whole set's rows") {
  for (const auto* name : {"synthetic_fedprox", "synthetic_leaf"})
    for (std::size_t limit : {std::size_t{0}, std::size_t{300}}) {
      CAPTURE(name);
      CAPTURE(limit);
      auto whole = data::load_dataset(generated(name, false, limit));
      auto lazy = data::load_dataset(generated(name, true, limit));
      REQUIRE(static_cast<bool>(lazy->train.source));
      CHECK(lazy->train.pixels.empty());
      CHECK(lazy->train.labels.empty());
      CHECK(lazy->test.pixels.empty());
      CHECK(lazy->num_classes == whole->num_classes);
      CHECK(lazy->natural_ids == whole->natural_ids);
      CHECK(lazy->true_group == whole->true_group);
      for (auto part : {&data::dataset::train, &data::dataset::test}) {
        const auto& a = (*whole).*part;
        const auto& b = (*lazy).*part;
        CHECK(b.count == a.count);
        CHECK(b.sample_size() == a.sample_size());
        // Owners as ranges of rows (a million users are not listed row by row), also when
        // data.train_limit cut rows: the users after the cut are no clients, their test rows
        // nobody's, as for the whole set's owners.
        CHECK(b.owner.empty());
        CHECK(owners(b) == a.owner);
        CHECK(all_of(b) == all_of(a));
      }
      data::partition_options natural;
      natural.scheme = "natural";
      auto ids = static_cast<std::uint32_t>(whole->natural_ids.size());
      auto lazy_parts = data::partition_dataset(*lazy, ids, natural, 5);
      auto whole_parts = data::partition_dataset(*whole, ids, natural, 5);
      for (std::uint32_t i = 0; i < ids; ++i) {
        CHECK(lazy_parts[i].train_rows() == whole_parts[i].train);
        CHECK(lazy_parts[i].test_rows() == whole_parts[i].test);
      }
      // Out of order and across users, as a shuffled batch asks.
      std::vector<std::uint32_t> order(whole->train.count);
      std::iota(order.rbegin(), order.rend(), 0u);
      CHECK(all_of(lazy->train, order) == all_of(whole->train, order));
      // Made on demand or whole, a set is identified by what makes it: another seed, another set.
      auto other = generated(name, true, limit);
      other.seed = 6;
      CHECK(data::load_dataset(other)->fingerprint != lazy->fingerprint);
      CHECK(data::load_dataset(generated(name, true, limit))->fingerprint == lazy->fingerprint);
    }
}

TEST_CASE("natural clients of a set made on demand are those of the whole set, without label histograms") {
  data::partition_options p;
  p.scheme = "natural";
  auto whole = data::partition_dataset(*data::load_dataset(generated("synthetic_leaf", false)), 8, p, 5);
  auto lazy = data::partition_dataset(*data::load_dataset(generated("synthetic_leaf", true)), 8, p, 5);
  REQUIRE(lazy.size() == whole.size());
  for (std::size_t i = 0; i < lazy.size(); ++i) {
    CHECK(lazy[i].natural_id == whole[i].natural_id);
    CHECK(lazy[i].ranged); // rows as ranges: no index lists for a million clients
    CHECK(lazy[i].train.empty());
    CHECK(lazy[i].train_rows() == whole[i].train);
    CHECK(lazy[i].test_rows() == whole[i].test);
    CHECK(lazy[i].train_size() == whole[i].train.size());
    CHECK(lazy[i].test_size() == whole[i].test.size());
    CHECK(lazy[i].group == whole[i].group);
    CHECK(lazy[i].label_histogram.empty()); // not known before the client's rows are made
  }
}

TEST_CASE("the user cache stays within its rows and remakes an evicted user identically") {
  std::atomic<int> made{0};
  data::user_generator g;
  g.identity = "test";
  g.sample_shape = {2};
  g.classes = 3;
  g.users = 4;
  g.counts = [](std::uint32_t u) { return std::pair<std::size_t, std::size_t>{3 + u, 1}; };
  g.make_user = [&made](std::uint32_t u) {
    ++made;
    data::federated_set s;
    s.sample_shape = {2};
    s.classes = 3;
    for (auto [a, n] : {std::pair{&s.train, 3 + u}, std::pair{&s.test, 1u}}) {
      a->count = n;
      for (std::uint32_t r = 0; r < n; ++r) {
        a->x.push_back(static_cast<float>(u));
        a->x.push_back(static_cast<float>(r));
        a->y.push_back((u + r) % 3);
      }
    }
    return s;
  };
  // Room for about one user: every change of user makes it again.
  auto set = data::make_on_demand(g, 4);
  CHECK(set.train.count == 3 + 4 + 5 + 6);
  CHECK(set.test.count == 4);
  CHECK(made == 0); // nothing made up front
  set.train.channels = set.train.height = 1;
  set.train.width = 2;
  std::vector<std::uint32_t> order{0, 3, 0, 17, 3};
  auto [x, y] = all_of(set.train, order);
  CHECK(x == std::vector<float>{0, 0, 1, 0, 0, 0, 3, 5, 1, 0});
  CHECK(y == std::vector<std::int64_t>{0, 1, 0, 2, 1});
  CHECK(made == 5);
  std::uint32_t past = 18;
  CHECK_THROWS_AS(all_of(set.train, {past}), data::data_error);
  // A generator that makes other counts than it declared is refused, never read past.
  g.counts = [](std::uint32_t) { return std::pair<std::size_t, std::size_t>{9, 1}; };
  auto wrong = data::make_on_demand(g, 4);
  wrong.train.channels = wrong.train.height = 1;
  wrong.train.width = 2;
  CHECK_THROWS_WITH_AS(all_of(wrong.train, {0}), doctest::Contains("inconsistent"), data::data_error);
}
