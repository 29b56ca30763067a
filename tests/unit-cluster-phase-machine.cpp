// fl::cluster_phase on plain values: which command follows which event, where clusters meet and
// where they do not, elections, IFCA's rule, CFL's numbering, late joiners, resume points.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "fl/cluster_phase.hpp"
#include "fl/privacy/rdp_accountant.hpp"

using namespace flotilla;
using kind = fl::phase_command::kind;

namespace {
using ids = std::vector<std::uint32_t>;

std::shared_ptr<const std::vector<float>> model(std::size_t n, float value) {
  return std::make_shared<const std::vector<float>>(n, value);
}

// Clients 0..5: cluster 0 holds 0, 2, 4; cluster 1 holds 1, 3, 5; servers 2 and 5 (lowest
// scores), the next in line 4 then 0, and 1 then 3.
fl::cluster_phase two_clusters(fl::cluster_phase_rules rules, fl::run_report* report = nullptr) {
  fl::cluster_phase p(std::move(rules), report);
  auto& r = p.registry();
  r.create({0, 1, 0, 1, 0, 1}, 2, model(4, 0.0f), {"fedavg", 0, {}});
  for (std::uint32_t id = 0; id < 6; ++id)
    r.set_score(id, id == 2 ? 1 : id == 5 ? 2 : id == 4 ? 3 : id == 1 ? 4 : 10.0 + id);
  r.select_servers();
  return p;
}

fl::cluster_phase_rules rules(std::uint32_t rounds, std::string method = "kmeans") {
  fl::cluster_phase_rules r;
  r.rounds = rounds;
  r.method = std::move(method);
  return r;
}

std::vector<kind> kinds(const fl::phase_commands& cmds) {
  std::vector<kind> out;
  for (const auto& c : cmds)
    out.push_back(c.what);
  return out;
}

// The commands of one kind, as (cluster, round) pairs.
std::vector<std::pair<std::uint32_t, std::uint32_t>> of(const fl::phase_commands& cmds, kind k) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  for (const auto& c : cmds)
    if (c.what == k)
      out.emplace_back(c.cluster, c.round);
  return out;
}

bool has(const fl::phase_commands& cmds, kind k) {
  return !of(cmds, k).empty();
}

fl::round_report result(std::uint32_t cluster, std::uint32_t round, float value, std::uint64_t samples = 100) {
  fl::round_report r;
  r.record.phase = "cluster";
  r.record.cluster = cluster;
  r.record.round = round;
  r.record.asked = 3;
  r.record.clients = 3;
  r.record.samples = samples;
  r.model = model(4, value);
  r.state = {"fedavg", round, {}};
  r.aggregator = 1000 + cluster;
  return r;
}

fl::phase_commands finish(fl::cluster_phase& p, std::uint32_t c, std::uint32_t round, double now = 0,
                          std::vector<std::uint32_t> split_off = {}) {
  auto r = result(c, round, static_cast<float>(10 * c + round));
  r.split_off = std::move(split_off);
  return p.round_finished(c, std::move(r), 4, 1, now);
}

// Starts the phase and acknowledges every promotion; returns the commands after the acks.
fl::phase_commands started(fl::cluster_phase& p, double now = 0) {
  auto cmds = p.start(now, false);
  fl::phase_commands out;
  for (auto [c, r] : of(cmds, kind::promote)) {
    auto more = p.promoted(c, now);
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}
} // namespace

TEST_CASE("a fresh start checkpoints round 0, then promotes every cluster's selected server") {
  auto p = two_clusters(rules(3));
  auto cmds = p.start(0, false);
  REQUIRE(kinds(cmds) == std::vector<kind>{kind::checkpoint, kind::promote, kind::promote});
  CHECK(cmds[0].round == 0);
  CHECK(of(cmds, kind::promote) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{0, 0}, {1, 0}});
  CHECK(cmds[1].demote == -1);
  CHECK(p.stage_of(0) == fl::cluster_phase::stage::promoting);
  // Once promoted, a cluster starts its first round at once, without waiting for the other.
  auto go = p.promoted(1, 0.5);
  CHECK(kinds(go) == std::vector<kind>{kind::start_round, kind::run_round});
  CHECK(of(go, kind::run_round) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, 1}});
  CHECK(p.stage_of(1) == fl::cluster_phase::stage::running);
  CHECK(p.stage_of(0) == fl::cluster_phase::stage::promoting);
}

TEST_CASE("clusters never wait for each other: a fast cluster runs all its rounds while a slow one runs its first") {
  fl::run_report report;
  auto p = two_clusters(rules(3), &report);
  started(p);
  for (std::uint32_t r = 1; r <= 3; ++r) {
    auto cmds = finish(p, 1, r, r);
    CHECK(of(cmds, kind::round_done) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, r}});
    CHECK(has(cmds, kind::checkpoint)); // a resume point after every cluster's round
    if (r < 3)
      CHECK(of(cmds, kind::run_round) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, r + 1}});
    else
      CHECK_FALSE(has(cmds, kind::run_round));
    CHECK_FALSE(has(cmds, kind::finish));
  }
  CHECK(p.stage_of(1) == fl::cluster_phase::stage::done);
  CHECK(p.stage_of(0) == fl::cluster_phase::stage::running);
  CHECK(p.next_round(0) == 1);
  CHECK(p.rounds_done_by_all() == 0); // the checkpoint's round: every live cluster has done it
  CHECK(p.registry().cluster(1).rounds_done == 3);
  for (std::uint32_t r = 1; r <= 3; ++r) {
    auto cmds = finish(p, 0, r, 10 + r);
    CHECK(has(cmds, kind::finish) == (r == 3));
  }
  CHECK(p.finished());
  CHECK(p.total_waited() == 0);
  // The report is folded from the events: every round, once, in the order they finished.
  REQUIRE(report.rounds.size() == 6);
  CHECK(report.rounds[0].cluster == 1);
  CHECK(report.rounds[3].cluster == 0);
  CHECK(report.samples_trained == 600);
  CHECK(report.clusters[1].aggregator_actor == 1001);
  CHECK(*p.registry().cluster(0).model == std::vector<float>(4, 3.0f));
}

TEST_CASE("lockstep: every cluster waits for all after every round, and the waiting is measured") {
  auto r = rules(2);
  r.lockstep = true;
  auto p = two_clusters(r);
  started(p);
  auto early = finish(p, 1, 1, 2.0);
  CHECK_FALSE(has(early, kind::run_round));
  CHECK_FALSE(has(early, kind::checkpoint)); // a waiting cluster is not a resume point of its own
  CHECK(p.stage_of(1) == fl::cluster_phase::stage::waiting);
  auto all = finish(p, 0, 1, 5.0);
  CHECK(of(all, kind::checkpoint) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{fl::no_cluster, 1}});
  CHECK(of(all, kind::run_round) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{0, 2}, {1, 2}});
  CHECK(p.waited().at(1) == doctest::Approx(3.0));
  CHECK(p.waited().at(0) == 0);
  finish(p, 0, 2, 6.0);
  auto last = finish(p, 1, 2, 8.0);
  CHECK(has(last, kind::finish));
  CHECK(p.total_waited() == doctest::Approx(5.0));
}

TEST_CASE("a lost server: the next member by score is elected and the round re-run, faults applied once") {
  auto p = two_clusters(rules(2));
  started(p);
  auto cmds = p.server_lost(0, 1, 2, "gone: node down", 1.0);
  REQUIRE(of(cmds, kind::promote) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{0, 1}});
  CHECK(cmds.back().demote == -1); // the lost server is not demoted: it is gone
  CHECK(*p.registry().server_of(0) == 4);
  CHECK(p.registry().lost(2));
  CHECK(p.registry().cluster(0).elections.back().reason == "gone: node down");
  auto rerun = p.promoted(0, 1.5);
  CHECK(kinds(rerun) == std::vector<kind>{kind::run_round}); // no second start_round: faults once
  // A late word about the lost server's round changes nothing: the round is the new server's now.
  CHECK(p.server_lost(0, 1, 2, "late", 2.0).empty());
  CHECK(p.stage_of(0) == fl::cluster_phase::stage::running);
  CHECK(*p.registry().server_of(0) == 4);
  CHECK(p.server_lost(0, 2, 4, "not its round", 2.0).empty());
}

TEST_CASE("a failed promotion loses the client; a cluster with nobody left fails and the phase finishes") {
  fl::cluster_phase p(rules(1), nullptr);
  p.registry().create({0, 0, 1}, 2, model(4, 0), {"fedavg", 0, {}});
  p.registry().select_servers();
  p.start(0, false);
  auto cmds = p.promotion_failed(1, "refused", 0.1);
  CHECK(has(cmds, kind::warning));
  CHECK(p.registry().lost(2));
  CHECK(p.stage_of(1) == fl::cluster_phase::stage::failed);
  CHECK(p.registry().cluster(1).failed);
  p.promoted(0, 0.2);
  auto done = finish(p, 0, 1);
  CHECK(has(done, kind::finish));
  CHECK(p.rounds_done_by_all() == 1); // failed clusters do not hold the count back
}

TEST_CASE("a server lost between rounds is replaced before the next round; a live former server is demoted") {
  auto p = two_clusters(rules(2));
  started(p);
  p.client_lost(5, "down");
  CHECK_FALSE(p.registry().server_of(1));
  auto cmds = finish(p, 1, 1);
  // The round's faults first (the server:1 target finds none), then the election and promotion.
  CHECK(of(cmds, kind::start_round) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, 2}});
  CHECK(of(cmds, kind::promote) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, 2}});
  CHECK(*p.registry().server_of(1) == 1);
  CHECK(kinds(p.promoted(1, 1)) == std::vector<kind>{kind::run_round});
}

TEST_CASE("IFCA's rule: the lowest loss; a tie keeps the client, else the lowest position") {
  CHECK(fl::ifca_choice({0.5, 0.2, 0.9}, {0, 1, 2}, 0u) == 1);
  CHECK(fl::ifca_choice({0.5, 0.5, 0.9}, {0, 1, 2}, 1u) == 1);
  CHECK(fl::ifca_choice({0.5, 0.5, 0.9}, {0, 1, 2}, 2u) == 0);
  CHECK(fl::ifca_choice({0.5, 0.5}, {3, 7}, std::nullopt) == 3);
  CHECK(fl::ifca_choice({0.7, 0.1}, {3, 7}, std::nullopt) == 7);
  CHECK_THROWS_AS(fl::ifca_choice({0.1}, {0, 1}, 0u), std::invalid_argument);
  CHECK_THROWS_AS(fl::ifca_choice({}, {}, 0u), std::invalid_argument);
  CHECK_THROWS_AS(fl::ifca_choice({0.1, std::nan("")}, {0, 1}, 0u), std::invalid_argument);
}

TEST_CASE("IFCA meets after every round but the last: losses asked once all finished, moves, elections, reassigned counts") {
  fl::run_report report;
  auto p = two_clusters(rules(2, "ifca"), &report);
  started(p);
  auto first = finish(p, 0, 1, 1.0);
  CHECK_FALSE(has(first, kind::ask_losses));
  CHECK_FALSE(has(first, kind::run_round));
  auto ask = finish(p, 1, 1, 4.0);
  REQUIRE(of(ask, kind::ask_losses).size() == 1);
  CHECK(ask.back().clusters == ids{0, 1});
  CHECK(ask.back().round == 1);
  CHECK(p.waited().at(0) == doctest::Approx(3.0));
  // Client 2 (cluster 0's server) and client 0 prefer cluster 1; client 3 ties and stays; a
  // NaN loss is not a move.
  std::map<std::uint32_t, std::vector<double>> losses{{0, {0.9, 0.1}}, {1, {0.9, 0.1}}, {2, {0.8, 0.2}},
                                                     {3, {0.5, 0.5}}, {4, {0.1, 0.9}}, {5, {std::nan(""), 0.1}}};
  auto moved = p.losses_reported(1, losses, 4.5);
  CHECK(p.registry().cluster(0).members == ids{4});
  CHECK(p.registry().cluster(1).members == ids{0, 1, 2, 3, 5});
  REQUIRE(of(moved, kind::promote) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{0, 2}});
  CHECK(moved.back().demote == 2); // client 2 serves nowhere now: back to a plain client
  CHECK(*p.registry().server_of(0) == 4);
  CHECK_FALSE(has(moved, kind::run_round)); // not before the promotion
  auto go = p.promoted(0, 5.0);
  CHECK(of(go, kind::checkpoint) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{fl::no_cluster, 1}});
  CHECK(of(go, kind::run_round) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{0, 2}, {1, 2}});
  finish(p, 1, 2, 6.0);
  CHECK(report.rounds.back().reassigned == 2); // clients 0 and 2 moved into cluster 1
  auto end = finish(p, 0, 2, 7.0);
  CHECK_FALSE(has(end, kind::ask_losses)); // not after the last round
  CHECK(has(end, kind::finish));
}

TEST_CASE("CFL: splits at the common point give new ids in parent order, whichever cluster finished first") {
  auto p = two_clusters(rules(2, "cfl"));
  started(p);
  finish(p, 1, 1, 1.0, {1, 3});      // cluster 1 proposes {1, 3}; it finished first
  auto cmds = finish(p, 0, 1, 2.0, {2, 4}); // cluster 0's server 2 leaves with its side
  REQUIRE(p.registry().clusters().size() == 4);
  CHECK(p.registry().cluster(2).parent == 0); // the lower parent's child comes first
  CHECK(p.registry().cluster(2).members == ids{2, 4});
  CHECK(p.registry().cluster(3).parent == 1);
  CHECK(p.registry().cluster(3).members == ids{1, 3});
  CHECK(p.registry().cluster(2).rounds_done == 1);
  // Cluster 0 lost its server to the split: elected again; both children get a first server.
  auto promos = of(cmds, kind::promote);
  CHECK(promos.size() == 3);
  CHECK_FALSE(has(cmds, kind::run_round));
  fl::phase_commands go;
  for (auto [c, r] : promos) {
    auto more = p.promoted(c, 3.0);
    go.insert(go.end(), more.begin(), more.end());
  }
  CHECK(of(go, kind::run_round) ==
        std::vector<std::pair<std::uint32_t, std::uint32_t>>{{0, 2}, {1, 2}, {2, 2}, {3, 2}});
  // A proposal that is the whole live cluster (or empty after losses) is no split.
  for (std::uint32_t c = 0; c < 4; ++c)
    finish(p, c, 2, 4.0, c == 0 ? std::vector<std::uint32_t>{0} : std::vector<std::uint32_t>{});
  CHECK(p.registry().clusters().size() == 4);
  CHECK(p.finished());
}

TEST_CASE("late joiners: clusters meet before late_join_round, the joiners are placed, everyone goes on") {
  auto r = rules(3);
  r.late_clients = 1;
  r.late_join_round = 2;
  fl::run_report report;
  auto p = two_clusters(r, &report);
  started(p);
  auto first = finish(p, 0, 1, 1.0);
  CHECK(p.stage_of(0) == fl::cluster_phase::stage::waiting);
  CHECK_FALSE(has(first, kind::join_late));
  CHECK(has(first, kind::round_done));
  auto join = finish(p, 1, 1, 2.0);
  REQUIRE(of(join, kind::join_late) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{fl::no_cluster, 2}});
  CHECK(has(join, kind::checkpoint));
  CHECK_FALSE(has(join, kind::run_round));
  std::vector<fl::late_join_record> placed{{6, 1, 2, {3.0, 1.0}}};
  auto go = p.joiners_placed(2, placed, 3.0);
  CHECK(p.late_joined());
  CHECK(p.registry().cluster(1).members == ids{1, 3, 5, 6});
  CHECK(p.registry().client(6).joined_round == 2);
  CHECK(report.late_joins.size() == 1);
  CHECK(of(go, kind::run_round) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{0, 2}, {1, 2}});
  // After the join the clusters run free again.
  auto free = finish(p, 1, 2, 4.0);
  CHECK(of(free, kind::run_round) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, 3}});
}

TEST_CASE("late joiners are placed by the nearest centroid of each live cluster's members' features") {
  fl::cluster_registry reg;
  reg.create({0, 0, 1, 1, 2}, 3, model(2, 0), {"fedavg", 0, {}});
  std::map<std::uint32_t, std::shared_ptr<const std::vector<float>>> points{
    {0, std::make_shared<const std::vector<float>>(std::vector<float>{0, 0})},
    {1, std::make_shared<const std::vector<float>>(std::vector<float>{2, 0})},  // centroid 0: (1, 0)
    {2, std::make_shared<const std::vector<float>>(std::vector<float>{10, 10})},
    {3, std::make_shared<const std::vector<float>>(std::vector<float>{10, 12})}}; // centroid 1: (10, 11)
  // Cluster 2's member has no features: no centroid, distance -1.
  std::vector<fl::late_joiner> joiners{{5, std::make_shared<const std::vector<float>>(std::vector<float>{9, 11})},
                                       {6, std::make_shared<const std::vector<float>>(std::vector<float>{1, 1})}};
  auto placed = fl::place_late_joiners(reg, points, joiners, 2);
  REQUIRE(placed.size() == 2);
  CHECK(placed[0].client == 5);
  CHECK(placed[0].cluster == 1);
  CHECK(placed[0].distances[1] == doctest::Approx(1.0));
  CHECK(placed[0].distances[2] == -1.0);
  CHECK(placed[1].cluster == 0);
  CHECK(placed[1].joined_round == 2);
  // A tie goes to the lower cluster id.
  std::vector<fl::late_joiner> middle{{7, std::make_shared<const std::vector<float>>(std::vector<float>{5.5, 5.5})}};
  CHECK(fl::place_late_joiners(reg, points, middle, 2)[0].cluster == 0);
  std::vector<fl::late_joiner> wrong{{8, std::make_shared<const std::vector<float>>(std::vector<float>{1, 2, 3})}};
  CHECK_THROWS_AS(fl::place_late_joiners(reg, points, wrong, 2), std::invalid_argument);
  CHECK(fl::place_late_joiners(reg, {}, joiners, 2).empty()); // no centroid anywhere: nobody placed
}

TEST_CASE("resume: each cluster continues after its own last round, after its server is promoted again") {
  auto p = two_clusters(rules(3));
  auto& reg = p.registry();
  reg.record_round(0, 1, model(4, 1), {"fedavg", 1, {}});
  reg.record_round(0, 2, model(4, 2), {"fedavg", 2, {}});
  reg.record_round(1, 1, model(4, 1), {"fedavg", 1, {}});
  CHECK(p.rounds_done_by_all() == 1);
  auto cmds = p.start(0, true);
  CHECK(kinds(cmds) == std::vector<kind>{kind::promote, kind::promote}); // no checkpoint: nothing new
  CHECK(of(p.promoted(0, 0), kind::run_round) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{0, 3}});
  CHECK(of(p.promoted(1, 0), kind::run_round) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, 2}});
}

TEST_CASE("resume: a common point met before the checkpoint is not met again, a pending late join is") {
  SUBCASE("IFCA: the reassignment after round 1 was done before the checkpoint") {
    auto p = two_clusters(rules(3, "ifca"));
    p.registry().record_round(0, 1, model(4, 1), {});
    p.registry().record_round(1, 1, model(4, 1), {});
    p.start(0, true);
    CHECK(of(p.promoted(0, 0), kind::run_round) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{0, 2}});
  }
  SUBCASE("the late clients had not joined") {
    auto r = rules(3);
    r.late_clients = 2;
    r.late_join_round = 2;
    auto p = two_clusters(r);
    p.registry().record_round(0, 1, model(4, 1), {});
    p.registry().record_round(1, 1, model(4, 1), {});
    p.start(0, true);
    CHECK(p.promoted(0, 0).empty());
    CHECK(has(p.promoted(1, 0), kind::join_late));
  }
}

TEST_CASE("a checkpoint is not written while a cluster waits at IFCA's common point (its step is not saved)") {
  auto r = rules(3, "ifca");
  fl::cluster_phase p(r, nullptr);
  p.registry().create({0, 1, 2}, 3, model(4, 0), {"fedavg", 0, {}});
  p.registry().select_servers();
  started(p);
  CHECK_FALSE(has(finish(p, 0, 1), kind::checkpoint));
  CHECK_FALSE(has(finish(p, 1, 1), kind::checkpoint));
  auto ask = finish(p, 2, 1);
  CHECK_FALSE(has(ask, kind::checkpoint));
  CHECK(has(ask, kind::ask_losses));
  auto go = p.losses_reported(1, {}, 1.0);
  CHECK(has(go, kind::checkpoint));
  CHECK(of(go, kind::run_round).size() == 3);
}

TEST_CASE("zero cluster rounds: a checkpoint and finish, nobody promoted for nothing") {
  auto p = two_clusters(rules(0));
  auto cmds = p.start(0, false);
  CHECK(kinds(cmds) == std::vector<kind>{kind::checkpoint, kind::finish});
}

TEST_CASE("a cluster that fails while the others are released does not release them twice") {
  auto r = rules(2);
  r.lockstep = true;
  fl::cluster_phase p(r, nullptr);
  p.registry().create({0, 1, 1}, 2, model(4, 0), {"fedavg", 0, {}});
  p.registry().select_servers();
  started(p);
  finish(p, 0, 1);
  p.client_lost(0, "down"); // cluster 0's only member, its server, while it waits
  auto cmds = finish(p, 1, 1);
  CHECK(p.stage_of(0) == fl::cluster_phase::stage::failed);
  CHECK(of(cmds, kind::run_round) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, 2}});
  CHECK(of(cmds, kind::checkpoint).size() == 1);
  CHECK(p.waited().at(1) == 0);
  auto end = finish(p, 1, 2);
  CHECK(of(end, kind::finish).size() == 1);
}

TEST_CASE("resume: a cluster that had done its rounds is neither promoted nor elected") {
  auto p = two_clusters(rules(2));
  auto& reg = p.registry();
  reg.record_round(1, 1, model(4, 1), {});
  reg.record_round(1, 2, model(4, 2), {});
  reg.mark_lost(5, "down"); // its server, gone after its last round
  auto cmds = p.start(0, true);
  CHECK(of(cmds, kind::promote) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{0, 0}});
  CHECK(p.stage_of(1) == fl::cluster_phase::stage::done);
  CHECK(p.registry().cluster(1).elections.empty());
  p.promoted(0, 0);
  finish(p, 0, 1);
  CHECK(has(finish(p, 0, 2), kind::finish));
}

TEST_CASE("the clustering methods as data: the phase reads their traits, never their names") {
  CHECK(fl::cluster_method_names() == std::vector<std::string>{"kmeans", "agglomerative", "cfl", "ifca", "none"});
  const auto& ifca = fl::cluster_method_named("ifca");
  REQUIRE(ifca.reassign);
  CHECK(ifca.reassign({0.3, 0.1}, {0, 1}, 0u) == 1);
  CHECK(ifca.initial == fl::cluster_method::grouping::kmeans);
  CHECK(fl::cluster_method_named("cfl").splits);
  CHECK(fl::cluster_method_named("cfl").initial == fl::cluster_method::grouping::one_cluster);
  CHECK_FALSE(fl::cluster_method_named("kmeans").reassign);
  CHECK_FALSE(fl::cluster_method_named("agglomerative").splits);
  CHECK_THROWS_WITH_AS(fl::cluster_method_named("fedgroup"),
                       "no clustering method 'fedgroup'; known: kmeans, agglomerative, cfl, ifca, none", std::invalid_argument);
  CHECK_THROWS_AS(fl::cluster_phase(rules(2, "fedgroup"), nullptr), std::invalid_argument);
}

TEST_CASE("clock=virtual: an election costs its cluster the round's deadline and the model download; a late join "
          "the slowest joiner's fit") {
  // Links of 8,000 kbps carry the 1 MB model in 1 s (client 4's in 2 s); client 6's fit is 100
  // samples in batches of 10 at 10 ms a sample: 1 s down + 3 x 10 x 10 x 10 / 1000 = 3 s + 1 s up.
  std::vector<fl::device> devices(7, fl::device{10, 8000, 0, 0, {}});
  devices[4].kbps = 4000;
  auto clock = std::make_shared<const fl::device_clock>(devices, std::vector<std::uint64_t>(7, 100), 10, 1000000);
  auto r = rules(3);
  r.clock = clock;
  r.deadline_s = 100;
  r.epochs = 1;
  auto p = two_clusters(r);
  started(p);
  p.server_lost(0, 1, 2, "gone: node down", 1.0);
  CHECK(*p.registry().server_of(0) == 4);
  CHECK(p.registry().cluster(0).sim_time_s == doctest::Approx(100 + 2)); // noticed at the deadline, then 2 s down
  CHECK(p.registry().cluster(1).sim_time_s == 0);                         // the other cluster is not held

  auto late = rules(3);
  late.late_clients = 1;
  late.late_join_round = 2;
  late.clock = clock;
  late.deadline_s = 100;
  auto q = two_clusters(late);
  started(q);
  finish(q, 0, 1, 1.0);
  finish(q, 1, 1, 2.0);
  q.joiners_placed(2, {{6, 1, 2, {3.0, 1.0}}}, 3.0);
  CHECK(q.registry().cluster(0).sim_time_s == doctest::Approx(5.0)); // both wait for client 6's 5 s fit
  CHECK(q.registry().cluster(1).sim_time_s == doctest::Approx(5.0));
}

TEST_CASE("privacy.dp: each cluster is an aggregation point with its own accountant, which starts from the "
          "initial phase's, and its budget ends its rounds alone") {
  fl::run_report report;
  // The coordinator's rounds spent something already: the clusters start from it.
  fl::privacy::rdp_accountant initial;
  initial.add_steps(0.5, 1.0, 3);
  report.privacy_rdp = initial.state();
  auto r = rules(10);
  r.dp_sigma = 1.0;
  r.dp_delta = 1e-5;
  r.fraction_fit = 1.0;
  // Cluster members: 3 each; every round asks all 3 (q = 1). Room for exactly two such rounds.
  auto two = initial;
  two.add_steps(1.0, 1.0, 2);
  auto three = two;
  three.add_steps(1.0, 1.0);
  r.dp_budget = (two.epsilon(1e-5) + three.epsilon(1e-5)) / 2;
  auto p = two_clusters(r, &report);
  started(p);
  auto one = initial;
  one.add_steps(1.0, 1.0);
  auto c1 = finish(p, 1, 1);
  REQUIRE(of(c1, kind::round_done).size() == 1);
  auto rec = std::find_if(c1.begin(), c1.end(), [](const fl::phase_command& c) { return c.what == kind::round_done; });
  CHECK(rec->record.epsilon == doctest::Approx(one.epsilon(1e-5)).epsilon(1e-12));
  CHECK(rec->record.epsilon > initial.epsilon(1e-5)); // composed with the initial phase, not from zero
  CHECK(p.registry().cluster(1).privacy_rdp == one.state());
  CHECK(p.registry().cluster(0).privacy_rdp.empty()); // cluster 0 has not run: its own accountant
  CHECK(of(c1, kind::run_round) == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, 2}});
  auto c2 = finish(p, 1, 2);
  // A third round would pass the budget: cluster 1 ends here, with a warning, cluster 0 runs on.
  CHECK_FALSE(has(c2, kind::run_round));
  CHECK(has(c2, kind::warning));
  CHECK(p.stage_of(1) == fl::cluster_phase::stage::done);
  CHECK(p.stage_of(0) == fl::cluster_phase::stage::running);
  CHECK(report.epsilon == doctest::Approx(two.epsilon(1e-5)).epsilon(1e-12)); // the largest over points
  finish(p, 0, 1);
  auto end = finish(p, 0, 2);
  CHECK(has(end, kind::finish));
  CHECK(p.registry().cluster(0).rounds_done == 2);
  CHECK(p.registry().cluster(1).rounds_done == 2);
}

TEST_CASE("privacy.adaptive_clip: each cluster moves its own clip from the coordinator's, and keeps it after a "
          "round that counted nothing") {
  fl::run_report report;
  report.dp_clip = 0.4; // where the coordinator's rounds left it
  auto r = rules(10);
  r.dp_sigma = 1.0;
  r.dp_adaptive = true;
  r.clip_rule = {0.5, 0.2};
  r.dp_clip = 1.0; // privacy.clip: the first round's, already moved by the coordinator
  auto p = two_clusters(r, &report);
  started(p);
  CHECK(p.clip_of(0) == 0.4);
  CHECK(p.clip_of(1) == 0.4);
  auto counted = result(1, 1, 11);
  counted.record.clip = 0.4;
  counted.record.clip_fraction = 0.9; // most updates fit: cluster 1's clip shrinks
  p.round_finished(1, std::move(counted), 4, 1, 0);
  CHECK(p.clip_of(1) == fl::privacy::adaptive_clip_update(0.4, 0.9, 0.5, 0.2));
  CHECK(p.registry().cluster(1).dp_clip == p.clip_of(1));
  CHECK(p.clip_of(0) == 0.4); // cluster 0 has not run: still the coordinator's
  auto uncounted = result(1, 2, 12); // did not aggregate: clip_fraction -1
  auto before = p.clip_of(1);
  p.round_finished(1, std::move(uncounted), 4, 1, 0);
  CHECK(p.clip_of(1) == before);
  SUBCASE("without adaptive clipping the servers clip at privacy.clip") {
    auto plain = rules(10);
    plain.dp_sigma = 1.0;
    auto q = two_clusters(plain, &report);
    CHECK(q.clip_of(0) == 0.0);
  }
}
