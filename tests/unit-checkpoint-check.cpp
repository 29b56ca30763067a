// Checkpoints against the run they are resumed in: a checksum proves a file whole, not that
// it fits; every id, round, phase, size and count is checked against the configuration and
// the model before anything uses it, and a violation is a checkpoint_error naming the field.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "app/checkpoint_check.hpp"
#include "app/checkpoint_file.hpp"
#include "config/config.hpp"
#include "config/settings.hpp"
#include "checkpoint_fixture.hpp"
#include "fixtures.hpp"

using namespace flotilla;

namespace {

// A checkpoint after cluster round 2 of a 3-client run (checkpoint_fixture.hpp).
fl::checkpoint sample() {
  return test::cluster_round_checkpoint();
}

} // namespace

namespace {

// The run the checks below judge by: 3 clients, 2 initial and 3 cluster rounds, fedadam, k = 2,
// 1,000 training images; a model of 3 weights and a metrics.jsonl of 1,000 bytes.
config::settings small_run(std::vector<std::string> overrides = {}) {
  std::vector<std::string> o{"clients=3", "rounds.initial=2", "rounds.cluster=3", "strategy.name=fedadam",
                             "clustering.k=2", "data.train_limit=1000"};
  o.insert(o.end(), overrides.begin(), overrides.end());
  return config::settings_from(config::resolve_config("", o));
}

constexpr std::size_t model_size = 3;
constexpr std::uintmax_t metrics_size = 1000;

// A checkpoint of small_run after cluster round 2 that every check accepts.
fl::checkpoint valid() {
  auto cp = sample();
  cp.strategy = {"fedadam", 2, {{0.1f, 0.2f, 0.3f}, {1, 2, 3}}};
  cp.lost_early = {1};
  cp.points.clear();
  cp.report.initial_personalized = {0.5, -1, 0.5};
  cp.report.clustering_method = "kmeans";
  cp.report.k = 1;
  fl::round_record initial;
  initial.phase = "initial";
  initial.round = 1;
  fl::round_record cluster;
  cluster.phase = "cluster";
  cluster.round = 1;
  cluster.cluster = 0;
  cluster.server = 2;
  cluster.failed = {1};
  cluster.failure_reasons = {"crashed"};
  auto second = initial;
  second.round = 2;
  auto later = cluster;
  later.round = 2;
  cp.report.rounds = {initial, second, cluster, later};
  cp.report.scores = {{0, 1, 2, 0, 0, 0, false, 1, 2}};
  cp.report.faults.clear();
  cp.report.clusters.resize(1);
  return cp;
}

// The same run after initial round 1.
fl::checkpoint valid_initial() {
  auto cp = valid();
  cp.phase = "initial";
  cp.round = 1;
  cp.strategy.steps = 1;
  cp.clusters.clear();
  cp.clients.clear();
  cp.selected = false;
  cp.report = {};
  fl::round_record r;
  r.phase = "initial";
  r.round = 1;
  cp.report.rounds = {r};
  return cp;
}

void check(const fl::checkpoint& cp, const config::settings& s = small_run()) {
  app::check_checkpoint(cp, s, model_size, metrics_size);
}

} // namespace

TEST_CASE("a checkpoint that fits the run is accepted") {
  CHECK_NOTHROW(check(valid()));
  CHECK_NOTHROW(check(valid_initial()));
  auto fresh = valid();
  fresh.strategy = {"fedadam", 0, {}}; // before the first aggregation: no buffers yet
  CHECK_NOTHROW(check(fresh));
}

// One SUBCASE per field: a valid checkpoint with that one field made impossible for the run.
TEST_CASE("a checkpoint with a valid checksum is still checked field by field against the run") {
  auto cp = valid();
  auto refused = [](const fl::checkpoint& bad, const std::string& message,
                    const config::settings& s = small_run()) {
    CHECK_THROWS_WITH_AS(check(bad, s), message.c_str(), app::checkpoint_error);
  };
  SUBCASE("phase") {
    cp.phase = "bogus";
    refused(cp, R"(phase = "bogus": neither "initial" nor "cluster")");
  }
  SUBCASE("round") {
    cp.round = 4294967295u;
    refused(cp, "round = 4294967295: a cluster checkpoint holds rounds 0 to 3 (rounds.cluster)");
    auto initial = valid_initial();
    initial.round = 2; // the last initial round is followed by clustering: it would run for ever
    refused(initial, "round = 2: an initial checkpoint holds rounds 1 to 1 (rounds.initial = 2; the last one is "
                     "followed by clustering)");
    refused(valid_initial(), R"(phase = "initial": a run with rounds.initial = 1 writes no initial checkpoint (its )"
                             "first is after clustering)",
            small_run({"rounds.initial=1"}));
  }
  SUBCASE("global") {
    cp.global = {1};
    refused(cp, "global = 1 values: the model (cnn) has 3 weights");
    cp.global = {1, NAN, 3};
    refused(cp, "global[1] = nan: not finite (aggregation never produces one)");
  }
  SUBCASE("strategy") {
    cp.strategy.buffers[1] = {1, 2}; // a fedadam state of the wrong size
    refused(cp, R"(strategy = "fedadam" with 2 buffers: fedadam: the saved buffer 'v' has 2 values, the model 3 weights)");
    cp.strategy = {"fedavgm", 1, {}};
    refused(cp, R"(strategy = "fedavgm" with 0 buffers: the saved strategy state belongs to 'fedavgm', not 'fedadam')");
    cp.strategy = {"fedadam", 3, {}};
    refused(cp, "strategy.steps = 3: more aggregations than initial rounds (rounds.initial = 2)");
  }
  SUBCASE("samples_of") {
    cp.samples_of = {10, 20};
    refused(cp, "samples_of = 2 entries: the run has 3 clients (clients + late_clients)");
    cp.samples_of = {10, 20, 18446744073709551615u};
    refused(cp, "samples_of[2] = 18446744073709551615: the clients' samples add up to more than the 1000 training "
                "images of data.train_limit");
  }
  SUBCASE("lost_early") {
    cp.lost_early = {1000000};
    refused(cp, "lost_early = 1000000: not a client of this run (0 to 2)");
  }
  SUBCASE("clusters") {
    cp.clusters.push_back(cp.clusters[0]);
    cp.clusters.push_back(cp.clusters[0]);
    refused(cp, "clusters = 3 clusters: clustering.method=kmeans makes 1 to 2 here");
  }
  SUBCASE("clusters[].id") {
    cp.clusters[0].id = 1;
    refused(cp, "clusters[0].id = 1: clusters are numbered 0, 1, ... in order");
  }
  SUBCASE("clusters[].server") {
    cp.clusters[0].server = 4000000000u; // segfaulted in phases::promote
    refused(cp, "clusters[0].server = 4000000000: not a client of this run (0 to 2)");
    cp.clusters[0].server = 1;
    refused(cp, "clusters[0].server = 1: not a member of the cluster");
  }
  SUBCASE("clusters[].members") {
    cp.clusters[0].members = {0, 2, 1000000};
    cp.clients[1000000] = fl::client_record{1.0, false, "", 0, 0u};
    refused(cp, "clusters[0].members[2] = 1000000: not a client of this run (0 to 2)");
    cp.clusters[0].members = {2, 0};
    refused(cp, "clusters[0].members[1] = 0: members are listed once each, ascending");
    cp.clusters[0].members = {0, 1, 2};
    refused(cp, "clusters[0].members[1] = 1: clients[1] is not a live client of cluster 0");
  }
  SUBCASE("clusters[].last_server") {
    cp.clusters[0].last_server = 3;
    refused(cp, "clusters[0].last_server = 3: neither -1 (none) nor a client of this run (0 to 2)");
  }
  SUBCASE("clusters[].model") {
    cp.clusters[0].model.reset();
    refused(cp, "clusters[0].model = none: every cluster starts with a model");
    cp.clusters[0].model = std::make_shared<const std::vector<float>>(std::vector<float>{1, 2, 3, 4});
    refused(cp, "clusters[0].model = 4 values: the model (cnn) has 3 weights");
  }
  SUBCASE("clusters[].state") {
    cp.clusters[0].state.buffers.pop_back();
    refused(cp, R"(clusters[0].state = "fedadam" with 1 buffers: fedadam keeps 2 buffers (m, v) or none, but the )"
                "saved state has 1");
    cp.clusters[0].state = {"fedadam", 4, {}};
    refused(cp, "clusters[0].state.steps = 4: more aggregations than cluster rounds (rounds.cluster = 3)");
  }
  SUBCASE("clusters[].rounds_done, created_round, parent") {
    // Clusters run free: one may be ahead of another, but the checkpoint's round is what every
    // live cluster has done.
    cp.clusters[0].rounds_done = 3;
    refused(cp, "round = 2: every live cluster has done 3 rounds");
    auto ahead = cp;
    ahead.round = 3;
    ahead.report.rounds.back().round = 2; // records may lag behind rounds_done only in count
    CHECK_NOTHROW(check(ahead));
    cp.clusters[0].rounds_done = 4;
    refused(cp, "clusters[0].rounds_done = 4: not from the checkpoint's round 2 to rounds.cluster = 3");
    cp.clusters[0].rounds_done = 1;
    refused(cp, "clusters[0].rounds_done = 1: not from the checkpoint's round 2 to rounds.cluster = 3");
    cp.clusters[0].rounds_done = 2;
    cp.clusters[0].created_round = 3;
    refused(cp, "clusters[0].created_round = 3: after the cluster's own rounds (2)");
    cp.clusters[0].created_round = 0;
    cp.clusters[0].parent = 0;
    refused(cp, "clusters[0].parent = 0: neither -1 (none) nor an earlier cluster (a split adds clusters last)");
  }
  SUBCASE("clusters[].term and elections") {
    cp.clusters[0].term = 7;
    refused(cp, "clusters[0].term = 7: 1 elections make term 1 or 2");
    cp.clusters[0].term = 2;
    cp.clusters[0].elections[0].to = 99;
    refused(cp, "clusters[0].elections[0].to = 99: not a client of this run (0 to 2)");
    cp.clusters[0].elections[0].to = 2;
    cp.clusters[0].elections[0].round = 4;
    refused(cp, "clusters[0].elections[0].round = 4: after the last cluster round (rounds.cluster = 3)");
    cp.clusters[0].elections[0].round = 2;
    cp.clusters[0].elections[0].term = 3;
    refused(cp, "clusters[0].elections[0].term = 3: not 1 to the cluster's term 2");
  }
  SUBCASE("clients") {
    cp.clients[7] = fl::client_record{1.0, true, "gone", 0, std::nullopt};
    refused(cp, "clients = 7: not a client of this run (0 to 2)");
    cp.clients.erase(7);
    cp.clients[1].cluster = 0;
    refused(cp, "clients[1].cluster = 0: a lost client is in no cluster");
    cp.clients[1] = fl::client_record{1.0, false, "", 0, 1u};
    refused(cp, "clients[1].cluster = 1: no such cluster (1)");
    cp.clients[1] = fl::client_record{1.0, false, "", 0, 0u};
    refused(cp, "clients[1].cluster = 0: the cluster does not list it as a member");
    cp.clients[1] = fl::client_record{NAN, true, "", 0, std::nullopt};
    refused(cp, "clients[1].score = nan: not finite");
    cp.clients[1] = fl::client_record{1.0, true, "", 2, std::nullopt};
    refused(cp, "clients[1].joined_round = 2: the run has no late clients, the only ones that join in a round");
    cp.clients[1] = fl::client_record{1.0, true, "", 1, std::nullopt};
    cp.samples_of.push_back(0);
    cp.report.initial_personalized.push_back(-1);
    refused(cp, "clients[1].joined_round = 1: only late clients (3 to 3) join, before round late_join_round = 2",
            small_run({"late_clients=1", "late_join_round=2"}));
  }
  SUBCASE("selected") {
    cp.selected = false;
    refused(cp, "selected = false: a cluster checkpoint comes after server selection");
    auto initial = valid_initial();
    initial.selected = true;
    refused(initial, "selected = true: an initial checkpoint comes before server selection");
  }
  SUBCASE("initial checkpoints hold nothing of the cluster phase") {
    auto initial = valid_initial();
    initial.clusters = valid().clusters;
    refused(initial, "clusters = 1 clusters: an initial checkpoint has none");
    initial = valid_initial();
    initial.clients = valid().clients;
    refused(initial, "clients = 3 records: an initial checkpoint has none");
    initial = valid_initial();
    initial.report.initial_global = {1, 2, 3};
    refused(initial, "report.initial_global = 3 values: it is set when the initial phase ends");
  }
  SUBCASE("late_joined") {
    cp.late_joined = true;
    refused(cp, "late_joined = true: the run has no late clients");
    auto late = small_run({"late_clients=1", "late_join_round=3"});
    auto with_late = valid();
    with_late.samples_of.push_back(0);
    with_late.report.initial_personalized.push_back(-1);
    CHECK_NOTHROW(check(with_late, late));
    with_late.late_joined = true; // they joined before round 3: the checkpoint of round 2 is written again
    CHECK_NOTHROW(check(with_late, late));
    auto early = with_late;
    early.round = 1;
    for (auto& c : early.clusters)
      c.rounds_done = 1;
    refused(early, "late_joined = true: late clients join before round 3, after the checkpoint's round 1", late);
    with_late.late_joined = false;
    with_late.round = 3;
    for (auto& c : with_late.clusters)
      c.rounds_done = 3;
    refused(with_late, "late_joined = false: late clients join before round 3, which the checkpoint's round 3 is past",
            late);
  }
  SUBCASE("points") {
    cp.points[0] = {1, 2, 3};
    refused(cp, "points = 1 clients' features: kept only while late clients are due");
    auto late = small_run({"late_clients=1", "late_join_round=3"});
    auto with_late = valid();
    with_late.samples_of.push_back(0);
    with_late.report.initial_personalized.push_back(-1);
    with_late.points[0] = {1, 2, 3};
    CHECK_NOTHROW(check(with_late, late));
    with_late.points[0] = {1}; // the late join's centroids read 3
    refused(with_late, "points[0] = 1 values: a client's features have 3 (the model's weights)", late);
    with_late.points.clear();
    with_late.points[3] = {1, 2, 3};
    refused(with_late, "points = 3: not a client present from the start (0 to 2)", late);
  }
  SUBCASE("report.initial_global and initial_personalized") {
    cp.report.initial_global = {1};
    refused(cp, "report.initial_global = 1 values: the model (cnn) has 3 weights");
    cp.report.initial_global = {1, 1, 1};
    cp.report.initial_personalized = {0.5};
    refused(cp, "report.initial_personalized = 1 values: one per client: 3");
  }
  SUBCASE("report.clustering_method, k, clusters") {
    cp.report.clustering_method = "cfl";
    refused(cp, R"(report.clustering_method = "cfl": the run's clustering.method is "kmeans")");
    cp.report.clustering_method = "kmeans";
    cp.report.k = 5;
    refused(cp, "report.k = 5: not 1 to the 1 clusters");
    cp.report.k = 1;
    cp.report.clusters.resize(4);
    refused(cp, "report.clusters = 4 records: more than the 1 clusters");
  }
  SUBCASE("report.rounds") {
    cp.report.rounds[2].cluster = 9;
    refused(cp, "report.rounds[2].cluster = 9: no such cluster (1)");
    cp.report.rounds[2].cluster = 0;
    cp.report.rounds[2].round = 3;
    refused(cp, "report.rounds[2].round = 3: not 1 to its cluster's rounds done (2)");
    cp.report.rounds[2].round = 1;
    cp.report.rounds[2].failed = {1, 2};
    refused(cp, "report.rounds[2].failed = 2 clients: failure_reasons has 1");
    cp.report.rounds[2].failed = {5};
    refused(cp, "report.rounds[2].failed[0] = 5: not a client of this run (0 to 2)");
    cp.report.rounds[2].failed = {1};
    cp.report.rounds[0].round = 9;
    refused(cp, "report.rounds[0].round = 9: not 1 to rounds.initial = 2");
    cp.report.rounds[0].round = 1;
    cp.report.rounds[0].phase = "final";
    refused(cp, R"(report.rounds[0].phase = "final": neither "initial" nor "cluster")");
    cp.report.rounds[0].phase = "initial";
    cp.report.rounds.push_back(cp.report.rounds[0]);
    cp.report.rounds.push_back(cp.report.rounds[0]);
    refused(cp, "report.rounds = 4 initial rounds: more than rounds.initial = 2");
  }
  SUBCASE("report.scores, projection, silhouette, faults, late_joins") {
    cp.report.scores[0].client = 3;
    refused(cp, "report.scores[0].client = 3: not a client of this run (0 to 2)");
    cp.report.scores[0].client = 0;
    cp.report.projection[12] = {0, 0};
    refused(cp, "report.projection = 12: not a client of this run (0 to 2)");
    cp.report.projection.erase(12);
    cp.report.silhouette[1] = 0.5;
    refused(cp, "report.silhouette = 1: not a k from 2 to clustering.k_max = 8");
    cp.report.silhouette.clear();
    cp.report.faults = {{"0", 0, "crash", "initial", 1, 0}};
    refused(cp, "report.faults = 1 applied: more than the 0 configured faults");
    cp.report.faults.clear();
    cp.report.late_joins = {{2, 0, 1, {}}};
    refused(cp, "report.late_joins = 1 records: more than late_clients = 0");
  }
  SUBCASE("report.privacy_rdp, report.dp_clip, clusters[].privacy_rdp, clusters[].dp_clip") {
    auto dp = small_run({"strategy.name=fedavg", "privacy.dp=central", "privacy.adaptive_clip=true"});
    cp.strategy = {"fedavg", 2, {}};
    for (auto& c : cp.clusters)
      c.state = {"fedavg", c.state.steps, {}};
    CHECK_NOTHROW(check(cp, dp));
    cp.report.dp_clip = 0.3;
    cp.clusters[0].dp_clip = 0.25;
    CHECK_NOTHROW(check(cp, dp));
    cp.clusters[0].dp_clip = -1;
    const std::string range = ": a clip norm is from 1e-06 to 1e+06 (privacy.clip's range, which adaptive clipping keeps to)";
    refused(cp, "clusters[0].dp_clip = -1.000000" + range, dp);
    cp.clusters[0].dp_clip = std::nan("");
    refused(cp, "clusters[0].dp_clip = nan" + range, dp);
    cp.clusters[0].dp_clip = 1e300;
    refused(cp, "clusters[0].dp_clip = " + std::to_string(1e300) + range, dp);
    cp.clusters[0].dp_clip = 0.25;
    cp.report.dp_clip = std::numeric_limits<double>::infinity();
    refused(cp, "report.dp_clip = inf" + range, dp);
    cp.report.dp_clip = 0.3;
    auto fixed_clip = small_run({"strategy.name=fedavg", "privacy.dp=central"});
    refused(cp, "clusters[0].dp_clip = 0.250000: only privacy.adaptive_clip moves the clip norm, and it is off",
            fixed_clip);
    cp.report.privacy_rdp = {1.0, 2.0};
    cp.clusters[0].dp_clip = 0;
    cp.report.dp_clip = 0;
    CHECK_THROWS_AS(check(cp, dp), app::checkpoint_error); // the wrong number of orders
  }
  SUBCASE("metrics_bytes") {
    cp.metrics_bytes = 1001;
    refused(cp, "metrics_bytes = 1001: past the end of metrics.jsonl (1000 bytes)");
  }
}

TEST_CASE("resume reads a checkpoint and refuses one that does not fit the run, naming the file and the field") {
  test::temp_dir dir;
  auto d = dir.path().string();
  auto s = small_run();
  auto cp = valid();
  cp.global.assign(80202, 0.5f); // the configured model, cnn, has 80,202 weights
  cp.strategy = {"fedadam", 2, {}};
  cp.report.initial_global = cp.global;
  for (auto& c : cp.clusters) {
    c.model = std::make_shared<const std::vector<float>>(cp.global);
    c.state = {"fedadam", 1, {}};
  }
  cp.metrics_bytes = 0;
  app::write_checkpoint(d, "run-a", cp);
  CHECK(app::read_checked_checkpoint(d, "run-a", s, model::spec_of("cnn").parameters).global == cp.global);
  cp.clusters[0].server = 4000000000u;
  app::write_checkpoint(d, "run-a", cp);
  auto file = (dir.path() / "checkpoint" / "checkpoint.bin").string();
  CHECK_THROWS_WITH_AS(app::read_checked_checkpoint(d, "run-a", s, model::spec_of("cnn").parameters),
                       (file + ": clusters[0].server = 4000000000: not a client of this run (0 to 2); it does not fit "
                               "this run's configuration and model (altered, or written by another build) and cannot "
                               "be resumed: start the run again").c_str(),
                       app::checkpoint_error);
  cp.clusters[0].server = 2;
  cp.metrics_bytes = 10; // metrics.jsonl does not exist
  app::write_checkpoint(d, "run-a", cp);
  CHECK_THROWS_AS(app::read_checked_checkpoint(d, "run-a", s, model::spec_of("cnn").parameters), app::checkpoint_error);
  test::write_bytes(d + "/metrics.jsonl", std::vector<unsigned char>(10, '\n'));
  CHECK_NOTHROW(app::read_checked_checkpoint(d, "run-a", s, model::spec_of("cnn").parameters));
}

TEST_CASE("the asynchronous steps' fits in flight are checked against the run") {
  auto s = small_run({"clock=virtual", "strategy.mode=buffered", "strategy.concurrency=2", "strategy.buffer=1",
                      "rounds.initial=4"});
  auto cp = valid_initial();
  cp.report.sim_time_s = 10;
  cp.flights = {{2, 0, 11}, {0, 1, 12.5}};
  cp.versions = {{0, {1, 2, 3}}, {1, {4, 5, 6}}};
  CHECK_NOTHROW(check(cp, s));
  auto refused = [&s](const fl::checkpoint& bad, const std::string& message) {
    CHECK_THROWS_WITH_AS(check(bad, s), message.c_str(), app::checkpoint_error);
  };
  SUBCASE("in a synchronous run") {
    CHECK_THROWS_WITH_AS(check(cp), "async.flights = 2 fits: only the asynchronous steps of the initial phase have "
                                    "fits in flight (strategy.mode = sync)", app::checkpoint_error);
  }
  SUBCASE("more than the concurrency") {
    cp.flights.push_back({1, 1, 13});
    refused(cp, "async.flights = 3 fits: more than strategy.concurrency = 2");
  }
  SUBCASE("a client") {
    cp.flights[0].client = 3;
    refused(cp, "async.flights[0].client = 3: not a client of this run (0 to 2)");
    cp.flights[0].client = 0;
    refused(cp, "async.flights[1].client = 0: in flight twice");
  }
  SUBCASE("a version") {
    cp.flights[1].version = 2;
    refused(cp, "async.flights[1].version = 2: not a model version the checkpoint holds (0 to its step 1)");
    cp.flights[1].version = 1;
    cp.versions.erase(1);
    refused(cp, "async.flights[1].version = 1: not a model version the checkpoint holds (0 to its step 1)");
  }
  SUBCASE("a completion time") {
    cp.flights[0].done = 9;
    refused(cp, "async.flights[0].done = 9.000000: not a simulated time at or after the checkpoint's (10.000000)");
    cp.flights[0].done = std::nan("");
    refused(cp, "async.flights[0].done = nan: not a simulated time at or after the checkpoint's (10.000000)");
  }
  SUBCASE("a model") {
    cp.versions[1] = {1, 2};
    refused(cp, "async.version.1 = 2 values: the model (cnn) has 3 weights");
    cp.versions[1] = {1, 2, std::nanf("")};
    refused(cp, "async.version.1[2] = nan: not finite (aggregation never produces one)");
    cp.versions[1] = {1, 2, 3};
    cp.versions[2] = {1, 2, 3};
    refused(cp, "async.versions = 2: after the checkpoint's step 1");
  }
}

TEST_CASE("a cluster's fits in flight are checked against the run") {
  auto cp = valid();
  cp.clusters[0].async.flights = {{0, 2, 1}};
  cp.clusters[0].async.versions = {{2, std::make_shared<const std::vector<float>>(std::vector<float>{1, 2, 3})}};
  CHECK_THROWS_WITH_AS(check(cp), "clusters[0].async.flights = 1 fits: only asynchronous cluster steps have fits in "
                                  "flight (strategy.mode = sync)", app::checkpoint_error);
  auto s = small_run({"clock=virtual", "strategy.mode=buffered", "strategy.concurrency=2", "strategy.buffer=1",
                      "rounds.initial=4"});
  cp.strategy.steps = 2;
  CHECK_NOTHROW(check(cp, s));
  cp.clusters[0].async.flights[0].version = 3;
  CHECK_THROWS_WITH_AS(check(cp, s), "clusters[0].async = 1 fits in flight: client 0's fit was sent version 3, which "
                                     "is not held (0 to 2)", app::checkpoint_error);
}
