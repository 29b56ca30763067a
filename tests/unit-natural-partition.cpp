#include <doctest/doctest.h>

#include <algorithm>

#include "data/data_error.hpp"
#include "data/dataset.hpp"
#include "data/natural_partition.hpp"
#include "data/partition_error.hpp"

using namespace flotilla;

namespace {

// A dataset of `owners.size()` one-float samples whose natural clients are `owners` (indices
// into ids); the test split has `test_owners` when given.
data::dataset natural_data(std::vector<std::uint32_t> owners, std::vector<std::string> ids,
                           std::vector<std::uint32_t> test_owners = {}) {
  data::dataset d;
  d.name = "hand-made";
  d.num_classes = 3;
  auto fill = [](data::split& s, const std::vector<std::uint32_t>& o) {
    s.count = o.size();
    s.width = 1;
    s.height = 1;
    s.pixels.assign(o.size(), 0.5f);
    for (std::size_t i = 0; i < o.size(); ++i)
      s.labels.push_back(static_cast<std::int64_t>(i % 3));
    s.owner = o;
  };
  fill(d.train, owners);
  fill(d.test, test_owners);
  if (test_owners.empty())
    d.test.owner.clear();
  d.natural_ids = std::move(ids);
  return d;
}

} // namespace

TEST_CASE("natural clients: one client per id, in the data's order, with the rows it owns") {
  auto d = natural_data({2, 0, 1, 0, 2, 2, 1, 0}, {"3", "10", "200"}, {1, 0, 2, 2});
  data::partition_options o;
  o.scheme = "natural";
  auto parts = data::natural_partitions(d, 3, o, 1);
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].natural_id == "3");
  CHECK(parts[1].natural_id == "10");
  CHECK(parts[2].natural_id == "200");
  CHECK(parts[0].train == std::vector<std::uint32_t>{1, 3, 7});
  CHECK(parts[1].train == std::vector<std::uint32_t>{2, 6});
  CHECK(parts[2].train == std::vector<std::uint32_t>{0, 4, 5});
  // Their own test rows, from the test split.
  CHECK(parts[0].test_in_test_split);
  CHECK(parts[0].test == std::vector<std::uint32_t>{1});
  CHECK(parts[2].test == std::vector<std::uint32_t>{2, 3});
  // Histogram over train and test as the client sees them: client 2 has train labels 0,1,2 and
  // test labels 2,0.
  CHECK(parts[2].label_histogram == std::vector<std::uint32_t>{2, 1, 2});
  // The same through the dispatcher.
  CHECK(data::partition_dataset(d, 3, o, 1)[1].train == parts[1].train);
}

TEST_CASE("natural clients without test rows hold out local_test_fraction of their own rows") {
  std::vector<std::uint32_t> owners;
  for (int i = 0; i < 40; ++i)
    owners.push_back(static_cast<std::uint32_t>(i % 2));
  auto d = natural_data(owners, {"a", "b"});
  data::partition_options o;
  o.scheme = "natural";
  o.local_test_fraction = 0.25;
  auto parts = data::natural_partitions(d, 2, o, 7);
  for (const auto& p : parts) {
    CHECK_FALSE(p.test_in_test_split);
    CHECK(p.train.size() == 15);
    CHECK(p.test.size() == 5);
    for (auto i : p.train)
      CHECK(owners[i] == p.id);
    for (auto i : p.test)
      CHECK(std::find(p.train.begin(), p.train.end(), i) == p.train.end());
  }
  CHECK(data::natural_partitions(d, 2, o, 7)[0].test == parts[0].test);
  CHECK(data::natural_partitions(d, 2, o, 8)[0].test != parts[0].test);
}

TEST_CASE("fewer clients than ids take a seeded sample, kept in the data's order") {
  std::vector<std::uint32_t> owners;
  std::vector<std::string> ids;
  for (std::uint32_t i = 0; i < 50; ++i) {
    ids.push_back(std::to_string(i));
    owners.push_back(i);
    owners.push_back(i);
  }
  auto d = natural_data(owners, ids);
  data::partition_options o;
  o.scheme = "natural";
  auto a = data::natural_partitions(d, 10, o, 1);
  auto b = data::natural_partitions(d, 10, o, 2);
  std::vector<int> chosen_a, chosen_b;
  for (const auto& p : a)
    chosen_a.push_back(std::stoi(p.natural_id));
  for (const auto& p : b)
    chosen_b.push_back(std::stoi(p.natural_id));
  CHECK(std::is_sorted(chosen_a.begin(), chosen_a.end()));
  CHECK(std::adjacent_find(chosen_a.begin(), chosen_a.end()) == chosen_a.end());
  CHECK(chosen_a != chosen_b);
  for (const auto& p : a)
    CHECK(p.train.size() + p.test.size() == 2);
}

TEST_CASE("natural partitions refuse data without ids, too many clients and an empty client") {
  data::partition_options o;
  o.scheme = "natural";
  auto d = natural_data({0, 1, 0}, {"x", "y"});
  CHECK_THROWS_WITH_AS(data::natural_partitions(d, 3, o, 1),
                       "partition.scheme=natural: clients = 3 but data.dataset=hand-made has 2 natural clients; set "
                       "clients to at most that, or 0 for all of them",
                       data::partition_error);
  auto no_ids = natural_data({0, 1}, {"x", "y"});
  no_ids.train.owner.clear();
  CHECK_THROWS_AS(data::natural_partitions(no_ids, 1, o, 1), data::partition_error);
  auto empty = natural_data({0, 0}, {"x", "y"});
  CHECK_THROWS_WITH_AS(data::natural_partitions(empty, 2, o, 1),
                       "natural client y has no training sample; remove it from the data, or raise data.train_limit "
                       "if it cut the client's rows off",
                       data::data_error);
  // The label-only entry point cannot do natural partitions and says why.
  CHECK_THROWS_AS(data::make_partitions({0, 1, 2, 0}, 3, 2, o, 1), data::partition_error);
}

TEST_CASE("a natural client without test rows of its own gets a hold-out of its training rows") {
  // Client "y" (owner 1) has four training rows and no test row; "x" has both.
  auto d = natural_data({0, 1, 0, 1, 1, 1, 0, 0}, {"x", "y"}, {0, 0});
  data::partition_options o;
  o.scheme = "natural";
  o.local_test_fraction = 0.25;
  auto parts = data::natural_partitions(d, 2, o, 3);
  CHECK(parts[0].test_in_test_split);
  CHECK(parts[0].test == std::vector<std::uint32_t>{0, 1});
  CHECK_FALSE(parts[1].test_in_test_split);
  CHECK(parts[1].train.size() == 3);
  CHECK(parts[1].test.size() == 1);
}

TEST_CASE("data.train_limit drops the natural clients whose every training row it cut") {
  data::data_options o;
  o.dataset = "synthetic_fedprox";
  o.users = 30;
  o.seed = 5;
  auto all = data::load_dataset(o);
  o.train_limit = all->train.count / 3;
  auto some = data::load_dataset(o);
  REQUIRE(some->natural_ids.size() < all->natural_ids.size());
  REQUIRE_FALSE(some->natural_ids.empty());
  std::vector<bool> owns(some->natural_ids.size(), false);
  for (auto owner : some->train.owner) {
    REQUIRE(owner < some->natural_ids.size());
    owns[owner] = true;
  }
  CHECK(std::all_of(owns.begin(), owns.end(), [](bool b) { return b; }));
  // Test rows of dropped clients stay in the global test split, owned by nobody.
  CHECK(some->test.count == all->test.count);
  CHECK(std::any_of(some->test.owner.begin(), some->test.owner.end(),
                    [&](std::uint32_t owner) { return owner == some->natural_ids.size(); }));
  data::partition_options p;
  p.scheme = "natural";
  auto parts = data::natural_partitions(*some, static_cast<std::uint32_t>(some->natural_ids.size()), p, 1);
  CHECK(parts.size() == some->natural_ids.size());
  CHECK(some->fingerprint != all->fingerprint);
}
