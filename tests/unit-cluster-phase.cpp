// The cluster phase on real (reduced) MNIST: a lost cluster server is replaced and its cluster
// completes every round, late joiners land in their group's cluster, and every clustering
// method recovers rotation groups. Rotated groups: client c is in group c % groups.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "config/config.hpp"
#include "config/settings.hpp"
#include "fixtures.hpp"
#include "fl/adjusted_rand_index.hpp"
#include "mnist_subset.hpp"
#include "runtime/local_run.hpp"

using namespace flotilla;

namespace {

struct quiet_observer : fl::run_observer {
  std::vector<std::string> events, warnings;
  void on_phase(const std::string&, const std::string&) override {}
  void on_progress(std::size_t, std::size_t) override {}
  void on_round(const fl::round_record&) override {}
  void on_warning(const std::string& w) override { warnings.push_back(w); }
  void on_event(const std::string& e) override { events.push_back(e); }
};

// 8,000 training images (1,000 a client): with 4,000, CFL's split criterion is not met after one
// initial round. 2,000 test images for the global evaluations, which no check here reads.
std::shared_ptr<const data::dataset> mnist() { return test::mnist_subset(8000, 2000); }

// 8 clients in 2 rotation groups (plus `late` late joiners), one initial round.
config::settings rotated(std::vector<std::string> more, std::uint32_t groups = 2) {
  std::vector<std::string> o{"clients=8", "partition.groups=" + std::to_string(groups),
                             "clustering.k=" + std::to_string(groups), "rounds.initial=1", "rounds.cluster=3",
                             "runtime.trainers=2"};
  o.insert(o.end(), more.begin(), more.end());
  return config::settings_from(config::resolve_config("config/rotated_mnist.json", o));
}

// ARI of the final assignment against the rotation groups, over every client in a cluster.
double ari(const fl::run_report& r, std::uint32_t groups) {
  std::vector<std::int64_t> truth, found;
  for (std::uint32_t id = 0; id < r.assignment.size(); ++id)
    if (r.assignment[id] != fl::no_cluster) {
      truth.push_back(id % groups);
      found.push_back(r.assignment[id]);
    }
  return fl::adjusted_rand_index(truth, found);
}

} // namespace

TEST_CASE("a crashed cluster server is replaced and its cluster completes every round") {
  REQUIRE_MNIST();
  auto s = rotated({R"(faults=[{"target": "server:0", "kind": "crash", "phase": "cluster", "round": 2}])"});
  auto report = runtime::run_experiment(s, mnist(), std::make_shared<quiet_observer>());
  REQUIRE(report.clusters.size() == 2);
  const auto& c0 = report.clusters[0];
  CHECK_FALSE(c0.failed);
  CHECK(c0.rounds_done == 3);
  CHECK(report.clusters[1].rounds_done == 3);
  REQUIRE(c0.elections.size() == 1);
  CHECK(c0.elections[0].round == 2);
  CHECK(c0.elections[0].term == 2);
  REQUIRE(report.faults.size() == 1);
  CHECK(c0.elections[0].from == report.faults[0].client); // the crashed server
  CHECK(c0.server == c0.elections[0].to);
  CHECK(std::count(c0.members.begin(), c0.members.end(), static_cast<std::uint32_t>(report.faults[0].client)) == 0);
  CHECK(report.clusters[1].elections.empty());
  CHECK(ari(report, 2) == doctest::Approx(1.0));
  // Rounds of cluster 0: 1, 2 (re-run by the new server, term 2), 3.
  std::vector<std::uint32_t> terms;
  for (const auto& r : report.rounds)
    if (r.cluster == 0)
      terms.push_back(r.term);
  CHECK(terms == std::vector<std::uint32_t>{1, 2, 2});
}

namespace {

// Server 1 hangs in cluster round 2 of a rotated run with `settings`; it must be replaced
// (one election, for a reason containing `why`) and its cluster complete every round.
void hung_server_replaced(std::vector<std::string> settings, const std::string& why) {
  settings.push_back(R"(faults=[{"target": "server:1", "kind": "hang", "phase": "cluster", "round": 2}])");
  auto report = runtime::run_experiment(rotated(settings), mnist(), std::make_shared<quiet_observer>());
  const auto& c1 = report.clusters[1];
  CHECK_FALSE(c1.failed);
  CHECK(c1.rounds_done == 3);
  REQUIRE(c1.elections.size() == 1);
  CHECK(c1.elections[0].reason.find(why) != std::string::npos);
  CHECK(report.clusters[0].elections.empty());
}

} // namespace

TEST_CASE("a hung cluster server is found by its liveness probe and replaced, the round's deadline untouched") {
  REQUIRE_MNIST();
  // rounds.timeout_s stays at its default (600 s: a deadline of 20 minutes); the probe asks
  // every second.
  hung_server_replaced({"runtime.liveness_s=1"}, "no answer to 3 liveness checks in a row, each within 1 s");
}

TEST_CASE("without the probe, a hung cluster server is found by the round deadline and replaced") {
  REQUIRE_MNIST();
  hung_server_replaced({"rounds.timeout_s=3", "runtime.liveness_s=0"}, "deadline");
}

TEST_CASE("late joiners are placed in their rotation group's cluster") {
  REQUIRE_MNIST();
  for (auto seed : {"seed=1", "seed=2"}) {
    CAPTURE(seed);
    auto s = rotated({seed, "late_clients=2", "late_join_round=2"});
    auto report = runtime::run_experiment(s, mnist(), std::make_shared<quiet_observer>());
    REQUIRE(report.late_joins.size() == 2);
    for (const auto& j : report.late_joins) {
      CHECK(j.joined_round == 2);
      CHECK(report.assignment[j.client] == j.cluster);
      // Nearest centroid: the distance to its own cluster is the smallest.
      CHECK(j.distances[j.cluster] == *std::min_element(j.distances.begin(), j.distances.end()));
    }
    CHECK(report.assignment.size() == 10);
    CHECK(ari(report, 2) == doctest::Approx(1.0)); // over all 10 clients
    CHECK(report.personalized[8] > 0.5);
  }
}

TEST_CASE("every clustering method recovers the rotation groups") {
  REQUIRE_MNIST();
  // One cluster round: the assignment is made before it (CFL splits and IFCA re-assigns in it).
  for (std::string method : {"kmeans", "agglomerative", "cfl", "ifca"}) {
    CAPTURE(method);
    auto s = rotated({"clustering.method=" + method, "rounds.cluster=1"});
    auto observer = std::make_shared<quiet_observer>();
    auto report = runtime::run_experiment(s, mnist(), observer);
    CHECK(ari(report, 2) == doctest::Approx(1.0));
    if (method == "cfl") { // one cluster, split once
      CHECK(report.k == 1);
      REQUIRE(report.clusters.size() == 2);
      CHECK(report.clusters[1].parent == 0);
      CHECK(report.clusters[1].created_round == 1);
      CHECK(report.clusters[1].elections.size() == 1); // its first server
    }
  }
  SUBCASE("agglomerative with average linkage on cosine distance of updates") {
    auto report = runtime::run_experiment(rotated({"clustering.method=agglomerative", "clustering.linkage=average",
                                                   "rounds.cluster=1"}),
                                          mnist(), std::make_shared<quiet_observer>());
    CHECK(ari(report, 2) == doctest::Approx(1.0));
  }
}

TEST_CASE("k = auto picks the number of rotation groups by silhouette") {
  REQUIRE_MNIST();
  auto report = runtime::run_experiment(rotated({"clustering.k=auto", "clients=12", "rounds.cluster=1"}, 3), mnist(),
                                        std::make_shared<quiet_observer>());
  CHECK(report.k == 3);
  CHECK(report.silhouette.size() >= 3);
  CHECK(ari(report, 3) == doctest::Approx(1.0));
}

TEST_CASE("the schedule changes nothing in the result: clusters at their own pace and in lock step give the same models") {
  REQUIRE_MNIST();
  for (std::vector<std::string> method : {std::vector<std::string>{"clustering.method=kmeans"},
                                          {"clustering.method=kmeans", "late_clients=2", "late_join_round=2"},
                                          {"clustering.method=ifca"}, {"clustering.method=cfl"}}) {
    CAPTURE(method.back());
    auto with = [&](const char* sync) {
      auto o = method;
      o.push_back("rounds.cluster=2");
      o.push_back(sync);
      return runtime::run_experiment(rotated(o), mnist(), std::make_shared<quiet_observer>());
    };
    auto free = with("rounds.cluster_sync=free");
    auto lockstep = with("rounds.cluster_sync=lockstep");
    CHECK(free.global_model == lockstep.global_model);
    REQUIRE(free.clusters.size() == lockstep.clusters.size());
    for (std::size_t c = 0; c < free.clusters.size(); ++c) {
      CHECK(free.clusters[c].model == lockstep.clusters[c].model);
      CHECK(free.clusters[c].members == lockstep.clusters[c].members);
    }
    CHECK(free.rounds.size() == lockstep.rounds.size());
    // Without a common point nothing waits; lock step waits after every round.
    if (method.size() == 1 && method[0] == "clustering.method=kmeans")
      CHECK(free.cluster_wait_seconds == 0);
    if (method[0] != "clustering.method=cfl") // CFL starts with one cluster: nobody to wait for
      CHECK(lockstep.cluster_wait_seconds > 0);
  }
}
