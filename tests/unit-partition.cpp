#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <set>
#include <stdexcept>

#include "data/data_error.hpp"
#include "data/partition.hpp"
#include "data/partition_error.hpp"

using namespace flotilla;

namespace {
std::vector<std::int64_t> balanced_labels(std::size_t n) {
  std::vector<std::int64_t> labels(n);
  for (std::size_t i = 0; i < n; ++i)
    labels[i] = static_cast<std::int64_t>(i % 10);
  return labels;
}

// Every index in exactly one client's train or test list.
void check_exactly_once(const std::vector<data::client_partition>& parts, std::size_t n) {
  std::vector<int> seen(n, 0);
  for (const auto& p : parts)
    for (const auto* list : {&p.train, &p.test})
      for (auto i : *list)
        ++seen[i];
  CHECK(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
}

// Number of classes that hold at least `share` of a client's samples.
std::size_t dominant_classes(const data::client_partition& p, double share) {
  double total = p.train.size() + p.test.size();
  return static_cast<std::size_t>(std::count_if(p.label_histogram.begin(), p.label_histogram.end(),
                                                [&](std::uint32_t c) { return c >= share * total; }));
}
} // namespace

TEST_CASE("iid gives equal shares of every class") {
  auto labels = balanced_labels(10000);
  data::partition_options opt;
  auto parts = data::make_partitions(labels, 10, 10, opt, 1);

  check_exactly_once(parts, labels.size());
  for (const auto& p : parts) {
    CHECK(p.train.size() + p.test.size() == 1000);
    CHECK(p.test.size() == 200);
    CHECK(dominant_classes(p, 0.05) == 10);
    CHECK(p.group == -1);
  }
}

TEST_CASE("partitions are deterministic in the seed") {
  auto labels = balanced_labels(2000);
  data::partition_options opt;
  opt.scheme = "dirichlet";
  auto a = data::make_partitions(labels, 10, 8, opt, 7);
  auto b = data::make_partitions(labels, 10, 8, opt, 7);
  auto c = data::make_partitions(labels, 10, 8, opt, 8);
  CHECK(a[3].train == b[3].train);
  CHECK(a[3].test == b[3].test);
  CHECK(a[3].train != c[3].train);
}

TEST_CASE("dirichlet with small alpha skews labels") {
  auto labels = balanced_labels(20000);
  data::partition_options opt;
  opt.scheme = "dirichlet";

  SUBCASE("alpha 0.1: few dominant classes per client") {
    opt.alpha = 0.1;
    auto parts = data::make_partitions(labels, 10, 10, opt, 3);
    check_exactly_once(parts, labels.size());
    double mean = 0;
    for (const auto& p : parts)
      mean += static_cast<double>(dominant_classes(p, 0.05));
    CHECK(mean / 10 < 5);
  }
  SUBCASE("alpha 100: close to iid") {
    opt.alpha = 100;
    auto parts = data::make_partitions(labels, 10, 10, opt, 3);
    for (const auto& p : parts)
      CHECK(dominant_classes(p, 0.05) == 10);
  }
}

TEST_CASE("shards give each client at most shards_per_client labels") {
  auto labels = balanced_labels(6000);
  data::partition_options opt;
  opt.scheme = "shards";
  opt.shards_per_client = 2;
  auto parts = data::make_partitions(labels, 10, 20, opt, 5);

  check_exactly_once(parts, labels.size());
  for (const auto& p : parts) {
    auto classes = std::count_if(p.label_histogram.begin(), p.label_histogram.end(),
                                 [](std::uint32_t c) { return c > 0; });
    CHECK(classes <= 2);
    CHECK(p.train.size() + p.test.size() == 300);
  }
}

TEST_CASE("rotated assigns groups and rotates train and local test alike") {
  auto labels = balanced_labels(1600);
  data::partition_options opt;
  opt.scheme = "rotated";
  opt.groups = 4;
  auto parts = data::make_partitions(labels, 10, 16, opt, 9);

  check_exactly_once(parts, labels.size());
  for (const auto& p : parts) {
    CHECK(p.group == static_cast<std::int32_t>(p.id % 4));
    CHECK(p.rotation_degrees == doctest::Approx(90.0 * p.group));
  }
}

TEST_CASE("impossible partitions are refused with advice") {
  auto labels = balanced_labels(30);
  data::partition_options opt;
  CHECK_THROWS_WITH_AS(data::make_partitions(labels, 10, 20, opt, 1),
                       "30 training samples are too few for 20 clients (each needs at least 2); "
                       "raise data.train_limit or lower clients",
                       data::partition_error);
  opt.scheme = "shards";
  opt.shards_per_client = 2;
  CHECK_THROWS_WITH_AS(data::make_partitions(labels, 10, 10, opt, 1),
                       "partition.scheme=shards: 20 shards need at least 40 samples but there are 30; "
                       "lower clients or partition.shards_per_client",
                       data::partition_error);
}

TEST_CASE("every option problem is a partition_error naming its config key") {
  auto labels = balanced_labels(100);
  data::partition_options opt;
  auto refused = [&](std::uint32_t clients, const char* message) {
    CHECK_THROWS_WITH_AS(data::make_partitions(labels, 10, clients, opt, 1), message, data::partition_error);
  };

  SUBCASE("no clients") {
    refused(0, "clients must be at least 1");
  }
  SUBCASE("unknown scheme") {
    opt.scheme = "pathological";
    refused(4, "unknown partition.scheme 'pathological' (allowed: iid, dirichlet, shards, rotated, label_swap, natural)");
  }
  SUBCASE("local test fraction") {
    opt.local_test_fraction = 1;
    refused(4, "partition.local_test_fraction = 1 is outside [0, 1); set the share of each client's samples "
               "held out for testing, e.g. 0.2");
    opt.local_test_fraction = -0.5;
    refused(4, "partition.local_test_fraction = -0.5 is outside [0, 1); set the share of each client's "
               "samples held out for testing, e.g. 0.2");
  }
  SUBCASE("dirichlet alpha") {
    opt.scheme = "dirichlet";
    opt.alpha = 0;
    refused(4, "partition.alpha = 0 must be a positive number for partition.scheme=dirichlet; e.g. 0.5 "
               "(smaller = more label skew)");
    opt.alpha = std::numeric_limits<double>::infinity();
    refused(4, "partition.alpha = inf must be a positive number for partition.scheme=dirichlet; e.g. 0.5 "
               "(smaller = more label skew)");
  }
  SUBCASE("dirichlet that leaves a client nearly empty") {
    opt.scheme = "dirichlet";
    opt.alpha = 0.001;
    refused(50, "partition.scheme=dirichlet: after 100 draws some client still had fewer than 2 samples; "
                "raise partition.alpha or lower clients");
  }
  SUBCASE("no shards") {
    opt.scheme = "shards";
    opt.shards_per_client = 0;
    refused(4, "partition.shards_per_client must be at least 1 for partition.scheme=shards");
  }
  SUBCASE("no groups") {
    opt.groups = 0;
    opt.scheme = "rotated";
    refused(4, "partition.groups must be at least 1 for partition.scheme=rotated");
    opt.scheme = "label_swap";
    refused(4, "partition.groups must be at least 1 for partition.scheme=label_swap");
  }
  SUBCASE("label_swap with one class") {
    opt.scheme = "label_swap";
    std::fill(labels.begin(), labels.end(), 0);
    CHECK_THROWS_WITH_AS(data::make_partitions(labels, 1, 4, opt, 1),
                         "partition.scheme=label_swap needs at least 2 classes to swap but the dataset has 1; "
                         "choose another partition.scheme",
                         data::partition_error);
  }
  SUBCASE("a partition_error is still an invalid_argument") {
    CHECK_THROWS_AS(data::make_partitions(labels, 10, 0, opt, 1), std::invalid_argument);
  }
}

TEST_CASE("a label outside the classes is a data_error, whatever the scheme") {
  auto labels = balanced_labels(100);
  labels[17] = 200;
  data::partition_options opt;
  for (const auto& scheme : data::partition_schemes()) {
    if (scheme == "natural")
      continue; // splits by client ids, not labels (unit-natural-partition)
    CAPTURE(scheme);
    opt.scheme = scheme;
    CHECK_THROWS_WITH_AS(data::make_partitions(labels, 10, 4, opt, 1),
                         "training label 200 at index 17 is outside 0-9; the dataset is corrupt: delete its "
                         "files and fetch them again",
                         data::data_error);
  }
  labels[17] = -1;
  CHECK_THROWS_WITH_AS(data::make_partitions(labels, 10, 4, opt, 1),
                       "training label -1 at index 17 is outside 0-9; the dataset is corrupt: delete its "
                       "files and fetch them again",
                       data::data_error);
}

namespace {
bool is_permutation_of_classes(const std::vector<std::int64_t>& map, std::size_t num_classes) {
  std::vector<std::int64_t> sorted = map, identity(num_classes);
  std::sort(sorted.begin(), sorted.end());
  std::iota(identity.begin(), identity.end(), 0);
  return sorted == identity;
}
} // namespace

TEST_CASE("label_swap gives each group its own permutation of the classes") {
  auto labels = balanced_labels(2400);
  data::partition_options opt;
  opt.scheme = "label_swap";
  opt.groups = 4;
  auto parts = data::make_partitions(labels, 10, 12, opt, 9);

  check_exactly_once(parts, labels.size());
  std::vector<std::vector<std::int64_t>> group_map(4);
  for (const auto& p : parts) {
    CAPTURE(p.id);
    CHECK(p.group == static_cast<std::int32_t>(p.id % 4));
    CHECK(p.rotation_degrees == 0);
    CHECK(p.train.size() + p.test.size() == 200); // iid shares
    if (p.group == 0) {
      CHECK(p.label_map.empty()); // the identity
      continue;
    }
    CHECK(is_permutation_of_classes(p.label_map, 10));
    auto& seen = group_map[static_cast<std::size_t>(p.group)];
    if (seen.empty())
      seen = p.label_map;
    CHECK(p.label_map == seen); // one map per group
  }
  std::vector<std::int64_t> identity(10);
  std::iota(identity.begin(), identity.end(), 0);
  std::set<std::vector<std::int64_t>> distinct{identity};
  for (std::size_t g = 1; g < 4; ++g)
    distinct.insert(group_map[g]);
  CHECK(distinct.size() == 4); // no group sees the identity, no two groups share a map
}

TEST_CASE("label_swap is deterministic in the seed and its maps do not depend on the group count") {
  auto labels = balanced_labels(2000);
  data::partition_options opt;
  opt.scheme = "label_swap";
  opt.groups = 3;
  auto a = data::make_partitions(labels, 10, 9, opt, 21);
  auto b = data::make_partitions(labels, 10, 9, opt, 21);
  auto c = data::make_partitions(labels, 10, 9, opt, 22);
  opt.groups = 5;
  auto wider = data::make_partitions(labels, 10, 10, opt, 21);

  for (std::size_t i = 0; i < 9; ++i) {
    CHECK(a[i].label_map == b[i].label_map);
    CHECK(a[i].train == b[i].train);
    CHECK(a[i].test == b[i].test);
  }
  CHECK(a[1].label_map != c[1].label_map);
  CHECK(a[2].label_map != c[2].label_map);
  CHECK(wider[1].label_map == a[1].label_map);
  CHECK(wider[2].label_map == a[2].label_map);
}

TEST_CASE("label_swap counts labels as the client sees them") {
  // Class y has y + 1 samples in every block of 55, so a swap shows in the histogram.
  std::vector<std::int64_t> labels;
  for (int block = 0; block < 40; ++block)
    for (std::int64_t y = 0; y < 10; ++y)
      labels.insert(labels.end(), static_cast<std::size_t>(y + 1), y);
  data::partition_options opt;
  opt.scheme = "label_swap";
  opt.groups = 2;
  auto parts = data::make_partitions(labels, 10, 4, opt, 3);

  for (const auto& p : parts) {
    CAPTURE(p.id);
    std::vector<std::uint32_t> expected(10, 0);
    for (const auto* list : {&p.train, &p.test})
      for (auto i : *list) {
        auto y = static_cast<std::size_t>(labels[i]);
        ++expected[p.label_map.empty() ? y : static_cast<std::size_t>(p.label_map[y])];
      }
    CHECK(p.label_histogram == expected);
  }
  // The mapped histogram of group 1 differs from the true one, or this test shows nothing.
  std::vector<std::uint32_t> truth(10, 0);
  for (const auto* list : {&parts[1].train, &parts[1].test})
    for (auto i : *list)
      ++truth[static_cast<std::size_t>(labels[i])];
  CHECK(parts[1].label_histogram != truth);
}

TEST_CASE("label_swap with more groups than permutations still swaps every group") {
  std::vector<std::int64_t> labels(60);
  for (std::size_t i = 0; i < labels.size(); ++i)
    labels[i] = static_cast<std::int64_t>(i % 2);
  data::partition_options opt;
  opt.scheme = "label_swap";
  opt.groups = 4;
  auto parts = data::make_partitions(labels, 2, 8, opt, 5);

  for (const auto& p : parts)
    if (p.group > 0)
      CHECK(p.label_map == std::vector<std::int64_t>{1, 0}); // the only non-identity map
    else
      CHECK(p.label_map.empty());
}

TEST_CASE("label_swap draws distinct maps while enough permutations exist") {
  // 3 classes have 5 non-identity permutations: 6 groups (5 swapped) use each exactly once.
  std::vector<std::int64_t> labels(120);
  for (std::size_t i = 0; i < labels.size(); ++i)
    labels[i] = static_cast<std::int64_t>(i % 3);
  data::partition_options opt;
  opt.scheme = "label_swap";
  opt.groups = 6;
  auto parts = data::make_partitions(labels, 3, 6, opt, 11);

  std::set<std::vector<std::int64_t>> maps;
  for (const auto& p : parts)
    if (p.group > 0) {
      CHECK(is_permutation_of_classes(p.label_map, 3));
      maps.insert(p.label_map);
    }
  CHECK(maps.size() == 5);
  CHECK(maps.count({0, 1, 2}) == 0);
}
