#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "data/partition.hpp"

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
                       std::invalid_argument);
  opt.scheme = "shards";
  opt.shards_per_client = 2;
  CHECK_THROWS_WITH_AS(data::make_partitions(labels, 10, 10, opt, 1),
                       "partition.scheme=shards: 20 shards need at least 40 samples but there are 30; "
                       "lower clients or partition.shards_per_client",
                       std::invalid_argument);
}
