// Checkpoints on disk: a round trip keeps every value, a version 1 file (before lost_early)
// is still read, and a damaged, truncated, foreign or future checkpoint is refused with a
// message saying so; resume overrides are limited to keys that do not change the experiment.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <set>

#include "app/checkpoint_file.hpp"
#include "app/resume.hpp"
#include "config/key_classes.hpp"
#include "common/sha256.hpp"
#include "config/config.hpp"
#include "checkpoint_fixture.hpp"
#include "fixtures.hpp"

using namespace flotilla;

namespace {

fl::checkpoint sample() {
  auto cp = test::cluster_round_checkpoint();
  cp.strategy = {"fedadam", 4, {{0.1f, 0.2f, 0.3f}, {1, 2, 3}}};
  cp.lost_early = {1, 5};
  cp.points[1] = {0.5f, 0.25f};
  fl::round_record r;
  r.phase = "initial";
  r.round = 1;
  r.failed = {1};
  r.failure_reasons = {"gone"};
  r.test_accuracy = 0.9;
  cp.report.rounds = {r};
  cp.report.bytes_moved = 123456;
  cp.report.faults = {{"server:0", 2, "crash", "cluster", 1, 0}, {"3", 3, "hang", "initial", 1, 0}};
  cp.report.client_actors = {11, 12, 13}; // this process's actors: not part of a checkpoint
  return cp;
}

std::string read_bytes(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// The checkpoint file `bytes` rewritten as `version`, its JSON changed by `edit`, with a valid
// checksum: how an older or newer build would have written it.
std::string rewritten(const std::string& bytes, std::uint32_t version,
                      const std::function<void(nlohmann::json&)>& edit) {
  const std::size_t magic = std::strlen("FLOTILLA-CHECKPOINT\n");
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data() + magic + 4, sizeof(n));
  auto doc = nlohmann::json::parse(bytes.substr(magic + 12, n));
  edit(doc);
  auto text = doc.dump();
  std::string out = bytes.substr(0, magic);
  out.append(reinterpret_cast<const char*>(&version), sizeof(version));
  std::uint64_t m = text.size();
  out.append(reinterpret_cast<const char*>(&m), sizeof(m));
  out += text;
  out += bytes.substr(magic + 12 + n, bytes.size() - 32 - (magic + 12 + n)); // the blobs
  auto hex = sha256_hex(out.data(), out.size());
  for (std::size_t i = 0; i < 32; ++i)
    out.push_back(static_cast<char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16)));
  return out;
}

} // namespace

TEST_CASE("a checkpoint round trip keeps every value") {
  test::temp_dir dir;
  app::write_checkpoint(dir.path().string(), "run-a", sample());
  auto cp = app::read_checkpoint(dir.path().string(), "run-a");
  CHECK(cp.phase == "cluster");
  CHECK(cp.round == 2);
  CHECK(cp.global == sample().global);
  CHECK(cp.strategy.buffers == sample().strategy.buffers);
  CHECK(cp.strategy.steps == 4);
  REQUIRE(cp.clusters.size() == 1);
  CHECK(*cp.clusters[0].model == std::vector<float>{7, 8, 9});
  CHECK(cp.clusters[0].server == 2u);
  CHECK(cp.clusters[0].elections.size() == 1);
  CHECK(cp.clusters[0].elections[0].from == 1);
  CHECK(cp.clusters[0].state.buffers == sample().clusters[0].state.buffers);
  CHECK(cp.clients.at(1).lost);
  CHECK_FALSE(cp.clients.at(1).cluster);
  CHECK(cp.clients.at(0).score == 12.5);
  // Clients lost before clustering (no registry yet) stay lost after a resume.
  CHECK(cp.lost_early == std::set<std::uint32_t>{1, 5});
  CHECK(cp.points.at(1) == std::vector<float>{0.5f, 0.25f});
  REQUIRE(cp.report.rounds.size() == 1);
  CHECK(cp.report.rounds[0].failure_reasons == std::vector<std::string>{"gone"});
  CHECK(cp.report.projection.at(0)[1] == 0.2);
  CHECK(cp.report.bytes_moved == 123456);
  // The applied faults, with the client each hit: a resume applies them again.
  REQUIRE(cp.report.faults.size() == 2);
  CHECK(cp.report.faults[0].client == 2);
  CHECK(cp.report.faults[0].kind == "crash");
  CHECK(cp.report.faults[1].client == 3);
  CHECK(cp.report.faults[1].kind == "hang");
  CHECK(cp.report.faults[1].seconds == 0);
  CHECK(cp.report.client_actors.empty());
  CHECK(cp.metrics_bytes == 789);
  CHECK(cp.flights.empty());
  CHECK(std::filesystem::exists(dir.path() / "checkpoint" / "progress.json"));
  // The registry accepts what was saved.
  auto reg = fl::cluster_registry::restore(cp.clusters, cp.clients, cp.selected);
  CHECK(reg.server_of(0) == 2u);
}

TEST_CASE("the asynchronous steps' fits in flight and their models round trip; a version 2 file has none") {
  test::temp_dir dir;
  auto d = dir.path().string();
  auto file = (dir.path() / "checkpoint" / "checkpoint.bin").string();
  auto cp = sample();
  cp.flights = {{4, 7, 12.25}, {1, 9, 13.5}};
  cp.versions = {{7, {1, 2, 3}}, {9, {4, 5, 6}}};
  cp.draws = 42;
  app::write_checkpoint(d, "run-a", cp);
  auto back = app::read_checkpoint(d, "run-a");
  REQUIRE(back.flights.size() == 2);
  CHECK(back.flights[1].client == 1);
  CHECK(back.flights[1].version == 9);
  CHECK(back.flights[1].done == 13.5);
  CHECK(back.versions == cp.versions);
  CHECK(back.draws == 42);
  CHECK(back.clusters[0].async.flights.empty());
  // A cluster server's fits in flight (FedBuff at the promoted servers) travel with the cluster.
  cp.clusters[0].async.draws = 7;
  cp.clusters[0].async.flights = {{2, 1, 3.5}};
  cp.clusters[0].async.versions = {{1, std::make_shared<const std::vector<float>>(std::vector<float>{9, 8, 7})}};
  app::write_checkpoint(d, "run-a", cp);
  back = app::read_checkpoint(d, "run-a");
  REQUIRE(back.clusters[0].async.flights.size() == 1);
  CHECK(back.clusters[0].async.flights[0].client == 2);
  CHECK(back.clusters[0].async.flights[0].done == 3.5);
  CHECK(*back.clusters[0].async.versions.at(1) == std::vector<float>{9, 8, 7});
  CHECK(back.clusters[0].async.draws == 7);
  write_bytes(file, rewritten(read_bytes(file), 2, [](nlohmann::json& doc) {
    doc.erase("async");
    for (auto& c : doc.at("clusters"))
      c.erase("async");
  }));
  back = app::read_checkpoint(d, "run-a");
  CHECK(back.flights.empty());
  CHECK(back.versions.empty());
  CHECK(back.clusters[0].async.flights.empty());
  CHECK(back.global == cp.global);
}

TEST_CASE("a checkpoint without lost clients keeps none; a version 1 checkpoint is still read") {
  test::temp_dir dir;
  auto d = dir.path().string();
  auto file = (dir.path() / "checkpoint" / "checkpoint.bin").string();
  auto none = sample();
  none.lost_early.clear();
  app::write_checkpoint(d, "run-a", none);
  CHECK(app::read_checkpoint(d, "run-a").lost_early.empty());
  // Version 1 had no lost_early: read as none, every other value as before.
  app::write_checkpoint(d, "run-a", sample());
  write_bytes(file, rewritten(read_bytes(file), 1, [](nlohmann::json& doc) { doc.erase("lost_early"); }));
  auto cp = app::read_checkpoint(d, "run-a");
  CHECK(cp.lost_early.empty());
  CHECK(cp.phase == "cluster");
  CHECK(cp.global == sample().global);
  CHECK(cp.report.faults.size() == 2);
  CHECK(cp.metrics_bytes == 789);
}

TEST_CASE("a damaged, truncated, foreign or future checkpoint is refused") {
  test::temp_dir dir;
  auto d = dir.path().string();
  auto file = (dir.path() / "checkpoint" / "checkpoint.bin").string();
  CHECK_THROWS_WITH_AS(app::read_checkpoint(d, "run-a"),
                       (file + ": no checkpoint (a run writes one after its first round); nothing to resume").c_str(),
                       app::checkpoint_error);
  app::write_checkpoint(d, "run-a", sample());
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto write = [&](const std::string& b) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << b;
  };
  SUBCASE("another run's") {
    CHECK_THROWS_WITH_AS(app::read_checkpoint(d, "run-b"),
                         (file + ": it belongs to another run (its configuration differs from " + d +
                          "/config.json, or the data differs from the files it trained on, or its model file or "
                          "devices.file is another); resume the directory it was written in, with the same data and "
                          "files (data.root may point to another copy)").c_str(),
                         app::checkpoint_error);
  }
  SUBCASE("one byte flipped") {
    auto b = bytes;
    b[b.size() / 2] ^= 0x40;
    write(b);
    CHECK_THROWS_WITH_AS(app::read_checkpoint(d, "run-a"),
                         (file + ": checksum mismatch; the checkpoint is damaged and cannot be resumed").c_str(),
                         app::checkpoint_error);
  }
  SUBCASE("cut short") {
    write(bytes.substr(0, bytes.size() / 3));
    CHECK_THROWS_AS(app::read_checkpoint(d, "run-a"), app::checkpoint_error);
  }
  SUBCASE("a future version") {
    write(rewritten(bytes, app::checkpoint_version + 1, [](nlohmann::json&) {}));
    CHECK_THROWS_WITH_AS(app::read_checkpoint(d, "run-a"),
                         (file + ": format version " + std::to_string(app::checkpoint_version + 1) +
                          ", this build reads versions 1 to " + std::to_string(app::checkpoint_version) +
                          "; resume it with the Flotilla that wrote it").c_str(),
                         app::checkpoint_error);
  }
  SUBCASE("version 2 without lost_early") {
    write(rewritten(bytes, 2, [](nlohmann::json& doc) { doc.erase("lost_early"); }));
    CHECK_THROWS_AS(app::read_checkpoint(d, "run-a"), app::checkpoint_error);
  }
  SUBCASE("not a checkpoint at all") {
    write("hello");
    CHECK_THROWS_WITH_AS(app::read_checkpoint(d, "run-a"), (file + ": not a Flotilla checkpoint").c_str(),
                         app::checkpoint_error);
  }
}

TEST_CASE("a resume may change where the run happens, not what it is") {
  auto doc = config::resolve_config("", {});
  auto id = config::run_id(doc, "data-a");
  auto changed = doc;
  // Another machine: its data elsewhere, its nodes, its threads, its terminal.
  app::apply_resume_overrides(changed, {"runtime.nodes=h:4242", "output.progress=off", "data.root=/elsewhere/mnist",
                                        "runtime.trainers=3", "output.save_models=false"});
  CHECK(config::run_id(changed, "data-a") == id);
  CHECK_THROWS_WITH_AS(app::apply_resume_overrides(changed, {"rounds.cluster=9"}),
                       "'rounds.cluster' would change the experiment; a resume may only change data.root, runtime.* "
                       "(e.g. runtime.nodes), output.progress and output.save_models (config/key_classes.json)",
                       config::config_error);
  CHECK_THROWS_AS(app::apply_resume_overrides(changed, {"data.train_limit=10"}), config::config_error);
  auto other = config::resolve_config("", {"seed=7"});
  CHECK(config::run_id(other, "data-a") != id);
  CHECK(config::run_id(doc, "data-b") != id); // the same files elsewhere resume; other files do not
}

TEST_CASE("a large fleet's samples are written sparsely and read back whole; a sparse list that lies is refused") {
  test::temp_dir dir;
  auto d = dir.path().string();
  auto file = (dir.path() / "checkpoint" / "checkpoint.bin").string();
  auto cp = sample();
  cp.samples_of.assign(1000, 0); // a thousand registered clients, three of which trained
  cp.samples_of[3] = 40;
  cp.samples_of[500] = 7;
  cp.samples_of[999] = 1;
  app::write_checkpoint(d, "run-a", cp);
  auto bytes = read_bytes(file);
  CHECK(bytes.find("\"nonzero\":[[3,40],[500,7],[999,1]]") != std::string::npos);
  CHECK(app::read_checkpoint(d, "run-a").samples_of == cp.samples_of);
  CHECK(app::read_checkpoint(d, "run-a", 1000).samples_of == cp.samples_of);
  SUBCASE("another number of clients than the run's") {
    CHECK_THROWS_WITH_AS(app::read_checkpoint(d, "run-a", 999),
                         (file + ": samples_of = 1000 entries: the run has 999 clients; the checkpoint is damaged")
                           .c_str(),
                         app::checkpoint_error);
  }
  SUBCASE("a client beyond its size") {
    write_bytes(file, rewritten(bytes, app::checkpoint_version,
                                [](nlohmann::json& j) { j["samples_of"]["nonzero"][0][0] = 1000; }));
    CHECK_THROWS_WITH_AS(app::read_checkpoint(d, "run-a"),
                         (file + ": samples_of names client 1000 of 1000; the checkpoint is damaged").c_str(),
                         app::checkpoint_error);
  }
  SUBCASE("a size that would allocate without bound") {
    write_bytes(file, rewritten(bytes, app::checkpoint_version,
                                [](nlohmann::json& j) { j["samples_of"]["size"] = 1ULL << 40; }));
    CHECK_THROWS_WITH_AS(app::read_checkpoint(d, "run-a"),
                         (file + ": samples_of claims 1099511627776 clients, more than 100000000; the checkpoint is "
                                 "damaged").c_str(),
                         app::checkpoint_error);
  }
}
