#include <stdexcept>
#include <doctest/doctest.h>

#include <cmath>

#include "fl/cluster_registry.hpp"

using namespace flotilla;

namespace {
using ids = std::vector<std::uint32_t>;

std::shared_ptr<const std::vector<float>> model(std::size_t n, float value) {
  return std::make_shared<const std::vector<float>>(n, value);
}

// Clients 0..5: cluster 0 holds 0, 2, 4; cluster 1 holds 1, 3, 5. Scores make the order in
// cluster 0 2 < 4 < 0 and in cluster 1 5 < 1 (client 3 never reports).
fl::cluster_registry two_clusters() {
  fl::cluster_registry r;
  r.create({0, 1, 0, 1, 0, 1}, 2, model(4, 0.0f), {"fedavgm", 0, {}});
  r.set_score(0, 90);
  r.set_score(1, 40);
  r.set_score(2, 10);
  r.set_score(4, 30);
  r.set_score(5, 20);
  return r;
}
} // namespace

TEST_CASE("create groups clients by assignment, every cluster from the same model") {
  auto r = two_clusters();
  REQUIRE(r.clusters().size() == 2);
  CHECK(r.cluster(0).members == ids{0, 2, 4});
  CHECK(r.cluster(1).members == ids{1, 3, 5});
  CHECK(r.cluster(0).model.get() == r.cluster(1).model.get()); // shared, not copied
  CHECK(r.cluster(1).state.strategy == "fedavgm");
  CHECK(r.cluster(1).id == 1);
  CHECK(r.cluster(0).term == 0);
  CHECK_FALSE(r.server_of(0));
  CHECK(r.cluster(0).parent == -1);
  CHECK(*r.cluster_of(3) == 1);
  CHECK(r.client(3).joined_round == 0);
  CHECK_FALSE(r.client(3).score);
  CHECK(*r.client(2).score == 10);
  CHECK(r.clients().size() == 6);
}

TEST_CASE("select_servers takes the lowest score, a client without a report last, ties to the lowest id") {
  auto r = two_clusters();
  r.select_servers();
  CHECK(*r.server_of(0) == 2);
  CHECK(*r.server_of(1) == 5);
  CHECK(r.cluster(0).term == 1);
  CHECK(r.cluster(0).elections.empty()); // the seed rule is not an election
  fl::cluster_registry tie;
  tie.create({0, 0, 0}, 1, model(1, 0));
  tie.set_score(2, 5);
  tie.set_score(1, 5);
  tie.select_servers();
  CHECK(*tie.server_of(0) == 1);
  fl::cluster_registry unreported;
  unreported.create({0, 0}, 1, model(1, 0));
  unreported.select_servers();
  CHECK(*unreported.server_of(0) == 0);
}

TEST_CASE("the server score is cpu + mem: a busier CPU moves the choice to the other member") {
  auto serve = [](double cpu0) {
    fl::cluster_registry r;
    r.create({0, 0}, 1, model(1, 0));
    r.set_score(0, fl::server_score(cpu0, 10));
    r.set_score(1, fl::server_score(12, 10));
    r.select_servers();
    return *r.server_of(0);
  };
  CHECK(serve(10) == 0);
  CHECK(serve(90) == 1); // client 0 as a busy device
}

TEST_CASE("elections follow scores, skip lost clients, count terms and keep the history") {
  auto r = two_clusters();
  r.select_servers();
  // Server 2 crashes: the next-lowest live member, 4, serves.
  CHECK(r.mark_lost(2, "crashed") == ids{0});
  CHECK_FALSE(r.server_of(0));
  CHECK(r.cluster(0).members == ids{0, 4});
  CHECK(*r.elect(0, 3, "server 2 crashed") == 4);
  CHECK(r.cluster(0).term == 2);
  // 0 would be next but is lost first (node gone), so the cluster's last live member is gone
  // with the next crash.
  CHECK(r.mark_lost(0, "node gone").empty()); // not a server
  CHECK(r.mark_lost(4, "hung") == ids{0});
  CHECK_FALSE(r.elect(0, 5, "server 4 hung"));
  CHECK(r.cluster(0).failed);
  CHECK(r.cluster(0).failure == "no live member left to serve (server 4 hung)");
  CHECK(r.cluster(0).term == 2);
  const auto& history = r.cluster(0).elections;
  REQUIRE(history.size() == 1);
  CHECK(history[0].round == 3);
  CHECK(history[0].term == 2);
  CHECK(history[0].from == 2);
  CHECK(history[0].to == 4);
  CHECK(history[0].reason == "server 2 crashed");
  // Cluster 1: 5 then 1 then the unreported 3.
  r.mark_lost(5);
  CHECK(*r.elect(1, 2, "a") == 1);
  r.mark_lost(1);
  CHECK(*r.elect(1, 4, "b") == 3);
  CHECK(r.cluster(1).term == 3);
  REQUIRE(r.cluster(1).elections.size() == 2);
  CHECK(r.cluster(1).elections[0].from == 5);
  CHECK(r.cluster(1).elections[1].from == 1);
  CHECK(r.cluster(1).elections[1].to == 3);
  CHECK(r.cluster(1).elections[1].term == 3);
}

TEST_CASE("an election replaces a server that is still live, which is not re-elected") {
  auto r = two_clusters();
  r.select_servers();
  CHECK(*r.elect(0, 1, "server 2 too slow") == 4);
  CHECK(*r.elect(0, 2, "server 4 too slow") == 2); // 2 is live and no longer the server
  CHECK(r.cluster(0).term == 3);
  fl::cluster_registry alone;
  alone.create({0}, 1, model(1, 0));
  alone.select_servers();
  CHECK_FALSE(alone.elect(0, 1, "timeout"));
  CHECK(alone.cluster(0).failed);
}

TEST_CASE("lost clients leave for good") {
  auto r = two_clusters();
  r.select_servers();
  CHECK(r.mark_lost(3).empty());
  CHECK(r.lost(3));
  CHECK(r.client(3).lost_reason == "lost");
  CHECK_FALSE(r.cluster_of(3));
  CHECK(r.live_members(1) == ids{1, 5});
  CHECK(r.mark_lost(3).empty()); // again: nothing changes
  CHECK_THROWS_WITH_AS(r.move_member(3, 0), "cluster_registry::move_member: client 3 is lost", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.add_member(0, 3, 2),
                       "cluster_registry::add_member: client 3 is known already (lost); only new clients join late",
                       std::invalid_argument);
}

TEST_CASE("a late joiner becomes a member and can serve once it reports") {
  auto r = two_clusters();
  r.select_servers();
  r.add_member(1, 9, 4);
  CHECK(r.cluster(1).members == ids{1, 3, 5, 9});
  CHECK(r.client(9).joined_round == 4);
  CHECK(*r.cluster_of(9) == 1);
  r.set_score(9, 1);
  r.mark_lost(5);
  CHECK(*r.elect(1, 5, "server 5 crashed") == 9);
  CHECK_THROWS_WITH_AS(r.add_member(0, 9, 6),
                       "cluster_registry::add_member: client 9 is known already (in cluster 1); only new clients "
                       "join late",
                       std::invalid_argument);
}

TEST_CASE("moving a member (IFCA) reports the cluster that lost its server") {
  auto r = two_clusters();
  r.select_servers();
  CHECK(r.move_member(0, 1).empty());
  CHECK(r.cluster(0).members == ids{2, 4});
  CHECK(r.cluster(1).members == ids{0, 1, 3, 5});
  CHECK(*r.cluster_of(0) == 1);
  CHECK(r.move_member(2, 1) == ids{0});
  CHECK_FALSE(r.server_of(0));
  CHECK(*r.elect(0, 2, "server 2 moved to cluster 1") == 4);
  CHECK(r.cluster(0).elections.back().from == 2);
  CHECK(r.move_member(4, 0).empty()); // to its own cluster: nothing to do
  CHECK(*r.server_of(0) == 4);
}

TEST_CASE("a CFL split creates a cluster with the parent's model and state, without a server") {
  auto r = two_clusters();
  r.select_servers();
  auto m = model(4, 2.5f);
  r.record_round(0, 1, m, {"fedavgm", 1, {{1, 2, 3, 4}}});
  r.record_round(0, 2, m, {"fedavgm", 2, {{1, 2, 3, 5}}});
  SUBCASE("the server stays with the parent") {
    auto id = r.split(0, {4, 0}, 3);
    CHECK(id == 2);
    const auto& child = r.cluster(id);
    CHECK(child.members == ids{0, 4});
    CHECK(child.model.get() == m.get());
    CHECK(child.state.steps == 2);
    CHECK(child.state.buffers == std::vector<std::vector<float>>{{1, 2, 3, 5}});
    CHECK(child.parent == 0);
    CHECK(child.created_round == 3);
    CHECK(child.rounds_done == 2);
    CHECK(child.term == 0);
    CHECK_FALSE(child.server);
    CHECK(r.cluster(0).members == ids{2});
    CHECK(*r.server_of(0) == 2);
    CHECK(*r.cluster_of(4) == 2);
    // The child's first server is an election from nobody, term 1.
    CHECK(*r.elect(id, 3, "created by a CFL split of cluster 0") == 4);
    CHECK(r.cluster(id).term == 1);
    CHECK(r.cluster(id).elections[0].from == -1);
  }
  SUBCASE("the server goes with the child") {
    auto id = r.split(0, {2}, 3);
    CHECK_FALSE(r.server_of(0));
    CHECK(r.cluster(0).members == ids{0, 4});
    CHECK(*r.elect(0, 3, "server 2 split off") == 4);
    CHECK(*r.elect(id, 3, "created by a split") == 2);
  }
}

TEST_CASE("record_round keeps the newest model and state") {
  auto r = two_clusters();
  auto m = model(4, 1.0f);
  r.record_round(1, 1, m, {"fedavgm", 1, {}});
  r.record_round(1, 3, model(4, 2.0f), {"fedavgm", 2, {}});
  CHECK(r.cluster(1).rounds_done == 3);
  CHECK((*r.cluster(1).model)[0] == 2.0f);
  CHECK(r.cluster(1).state.steps == 2);
  CHECK(r.cluster(0).rounds_done == 0);
}

TEST_CASE("mark_failed keeps the first failure") {
  auto r = two_clusters();
  r.mark_failed(1, "promotion of client 5 failed");
  r.mark_failed(1, "later");
  CHECK(r.cluster(1).failure == "promotion of client 5 failed");
  CHECK(r.mark_lost(1).empty()); // a failed cluster holds no elections
  r.select_servers();
  CHECK_FALSE(r.server_of(1));
  CHECK(*r.server_of(0) == 2);
}

TEST_CASE("the registry refuses bad input with a message saying what was wrong") {
  fl::cluster_registry empty;
  CHECK_THROWS_WITH_AS(empty.select_servers(), "cluster_registry::select_servers: no clusters; call create first",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(empty.create({0}, 0, model(1, 0)), "cluster_registry::create: k must be at least 1",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(empty.create({0}, 1, nullptr), "cluster_registry::create: no model", std::invalid_argument);
  CHECK_THROWS_WITH_AS(empty.create({0, 2}, 2, model(1, 0)), "cluster_registry::create: client 1 is in cluster 2 of 2",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(empty.create({0, 0}, 2, model(1, 0)), "cluster_registry::create: cluster 1 of 2 has no members",
                       std::invalid_argument);
  CHECK(empty.clusters().empty()); // a refused create leaves nothing behind

  auto r = two_clusters();
  CHECK_THROWS_WITH_AS(r.create({0}, 1, model(1, 0)), "cluster_registry::create: the clusters exist already",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.set_score(6, 1), "cluster_registry::set_score: client 6 is unknown", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.set_score(1, NAN), "cluster_registry::set_score: the score of client 1 is not finite",
                       std::invalid_argument);
  r.select_servers();
  CHECK_THROWS_WITH_AS(r.select_servers(),
                       "cluster_registry::select_servers: servers were selected already; replace one with elect",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.mark_lost(8), "cluster_registry::mark_lost: client 8 is unknown", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.elect(2, 1, "x"), "cluster_registry::elect: cluster 2 does not exist (2 clusters)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.elect(0, 1, ""), "cluster_registry::elect: no reason given for the election in cluster 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.move_member(7, 0), "cluster_registry::move_member: client 7 is unknown",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.move_member(0, 4), "cluster_registry::move_member: cluster 4 does not exist (2 clusters)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.split(0, {}, 1),
                       "cluster_registry::split: the second side of cluster 0 has 0 of its 3 members; both sides "
                       "need at least one",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.split(0, {0, 2, 4}, 1),
                       "cluster_registry::split: the second side of cluster 0 has 3 of its 3 members; both sides "
                       "need at least one",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.split(0, {2, 2}, 1),
                       "cluster_registry::split: the second side of cluster 0 names a client twice",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.split(0, {1}, 1), "cluster_registry::split: client 1 is not a member of cluster 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.record_round(0, 1, nullptr, {}),
                       "cluster_registry::record_round: no model for round 1 of cluster 0", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.record_round(0, 1, model(3, 0), {}),
                       "cluster_registry::record_round: the model of cluster 0 has 3 values, expected 4",
                       std::invalid_argument);
  r.record_round(0, 2, model(4, 0), {});
  CHECK_THROWS_WITH_AS(r.record_round(0, 2, model(4, 0), {}),
                       "cluster_registry::record_round: round 2 of cluster 0 is not after round 2",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.mark_failed(5, "x"), "cluster_registry::mark_failed: cluster 5 does not exist (2 clusters)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.cluster(3), "cluster_registry::cluster: cluster 3 does not exist (2 clusters)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.client(30), "cluster_registry::client: client 30 is unknown", std::invalid_argument);
  CHECK_THROWS_WITH_AS(r.lost(30), "cluster_registry::client: client 30 is unknown", std::invalid_argument);

  r.mark_failed(1, "server 5 unreachable");
  for (auto call : {+[](fl::cluster_registry& x) { x.elect(1, 3, "x"); },
                    +[](fl::cluster_registry& x) { x.add_member(1, 20, 3); },
                    +[](fl::cluster_registry& x) { x.move_member(0, 1); },
                    +[](fl::cluster_registry& x) { x.split(1, {3}, 3); },
                    +[](fl::cluster_registry& x) { x.record_round(1, 3, model(4, 0), {}); }})
    CHECK_THROWS_WITH_AS(call(r), doctest::Contains("cluster 1 has failed: server 5 unreachable"),
                         std::invalid_argument);
}
