// A whole run on real actor systems, on a small generated dataset.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "actors/protocol.hpp"
#include "config/config.hpp"
#include "config/settings.hpp"
#include "runtime/local_run.hpp"
#include "common/sha256.hpp"
#include "fixtures.hpp"
#include "mnist_subset.hpp"
#include "model/model_spec.hpp"
#include "model/trainer.hpp"

using namespace flotilla;

namespace {

// Observer that keeps what it is told, for assertions.
struct recording_observer : fl::run_observer {
  std::vector<fl::round_record> rounds;
  std::vector<std::string> warnings, phases;
  void on_phase(const std::string& p, const std::string&) override { phases.push_back(p); }
  void on_progress(std::size_t, std::size_t) override {}
  void on_round(const fl::round_record& r) override { rounds.push_back(r); }
  void on_warning(const std::string& w) override { warnings.push_back(w); }
};

struct small_run {
  test::temp_dir dir;
  std::shared_ptr<const data::dataset> data;
  small_run() {
    test::write_mnist_like(dir.path(), 480, 100);
    data = data::load_dataset({"mnist", dir.path().string(), 0});
  }
  config::settings settings(std::vector<std::string> overrides = {}) const {
    std::vector<std::string> base{"clients=6", "clustering.k=2", "rounds.initial=1", "rounds.cluster=1",
                                  "runtime.trainers=2", "runtime.scheduler_threads=2"};
    base.insert(base.end(), overrides.begin(), overrides.end());
    return config::settings_from(config::resolve_config("", base));
  }
};

std::string sha_of(const std::vector<float>& w) {
  return sha256_hex(w.data(), w.size() * sizeof(float));
}

} // namespace

TEST_CASE_FIXTURE(small_run, "a small run goes through every phase and reports every client") {
  auto observer = std::make_shared<recording_observer>();
  auto report = runtime::run_experiment(settings(), data, observer);

  CHECK(observer->phases == std::vector<std::string>{"initial", "clustering", "selection", "cluster", "evaluation"});
  // 1 initial round + 1 round for each of 2 clusters.
  REQUIRE(report.rounds.size() == 3);
  CHECK(report.rounds[0].phase == "initial");
  CHECK(report.rounds[0].clients == 6);
  CHECK(report.clusters.size() == 2);
  std::size_t members = 0;
  for (const auto& c : report.clusters) {
    members += c.members.size();
    CHECK(std::count(c.members.begin(), c.members.end(), c.server) == 1);
    CHECK(c.rounds_done == 1);
    CHECK_FALSE(c.failed);
  }
  CHECK(members == 6);
  CHECK(report.scores.size() == 6);
  CHECK(report.global_model.size() == 80202);
  // The reported accuracy is the global model's on the test set, as a trainer measures it.
  model::trainer check("cnn");
  CHECK(report.global_accuracy == check.evaluate(report.global_model, data->test, {}, {}, {}).accuracy);
  CHECK(std::all_of(report.personalized.begin(), report.personalized.end(), [](double a) { return a >= 0; }));
  CHECK(observer->warnings.empty());
}

TEST_CASE_FIXTURE(small_run, "the cluster server's aggregation runs in the promoted client actor itself") {
  auto report = runtime::run_experiment(settings(), data, std::make_shared<recording_observer>());
  REQUIRE(report.client_actors.size() == 6);
  for (const auto& c : report.clusters) {
    CAPTURE(c.id);
    CHECK(c.aggregator_actor != 0);
    CHECK(c.aggregator_actor == report.client_actors[c.server]);
  }
}

TEST_CASE_FIXTURE(small_run, "the same seed gives the same global model, whatever the timing") {
  auto a = runtime::run_experiment(settings({"runtime.trainers=1"}), data, std::make_shared<recording_observer>());
  auto b = runtime::run_experiment(settings({"runtime.trainers=2"}), data, std::make_shared<recording_observer>());
  auto c = runtime::run_experiment(settings({"seed=7"}), data, std::make_shared<recording_observer>());
  CHECK(sha_of(a.global_model) == sha_of(b.global_model));
  CHECK(a.assignment == b.assignment);
  CHECK(sha_of(a.global_model) != sha_of(c.global_model));
}

TEST_CASE_FIXTURE(small_run, "a client that fails or is gone is recorded and the run completes") {
  auto observer = std::make_shared<recording_observer>();
  // Client 1 answers every request with an error; client 4 is gone (it quits at its first
  // message). Silent clients and deadlines are tested under the deterministic scheduler in
  // unit-round-engine.cpp, without waiting on the wall clock.
  auto doubles = [](caf::actor_system& sys, std::uint32_t id) -> caf::actor {
    if (id == 1)
      return sys.spawn([]() -> caf::behavior {
        return {[](actors::fit_atom, const actors::fit_ins&) -> caf::result<actors::fit_result> {
                  return caf::make_error(caf::sec::runtime_error, std::string("injected failure"));
                },
                [](actors::evaluate_atom, const actors::weight_blob&) -> caf::result<actors::eval_result> {
                  return caf::make_error(caf::sec::runtime_error, std::string("injected failure"));
                }};
      });
    if (id == 4)
      return sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
        self->set_default_handler([](caf::scheduled_actor* me, caf::message_view&) -> caf::result<caf::message> {
          me->quit(caf::exit_reason::kill);
          return caf::delegated<caf::message>{};
        });
        return {[](int) {}};
      });
    return {};
  };
  auto report = runtime::run_experiment(settings({"rounds.quorum=0.5"}), data,
                                       observer, doubles);

  REQUIRE(report.rounds.size() >= 1);
  const auto& first = report.rounds[0];
  CHECK(first.clients == 4);
  CHECK(first.failures == 2);
  CHECK(first.failed == std::vector<std::uint32_t>{1, 4});
  CHECK(first.aggregated);
  // Neither joins a cluster; the others are served and evaluated.
  CHECK(report.assignment[1] == fl::no_cluster);
  CHECK(report.assignment[4] == fl::no_cluster);
  std::size_t members = 0;
  for (const auto& c : report.clusters)
    members += c.members.size();
  CHECK(members == 4);
  CHECK(report.personalized[0] >= 0);
  CHECK(report.personalized[1] < 0);
}

TEST_CASE_FIXTURE(small_run, "a round below the quorum keeps the model and says so") {
  auto observer = std::make_shared<recording_observer>();
  // Only client 0 is real; the other five fail every request.
  auto failing = [](caf::actor_system& sys, std::uint32_t id) -> caf::actor {
    if (id == 0)
      return {};
    return sys.spawn([]() -> caf::behavior {
      return {[](actors::fit_atom, const actors::fit_ins&) -> caf::result<actors::fit_result> {
        return caf::make_error(caf::sec::runtime_error, std::string("down"));
      }};
    });
  };
  auto s = settings({"rounds.initial=2", "rounds.quorum=0.5"});
  auto report = runtime::run_experiment(s, data, observer, failing);

  REQUIRE(report.rounds.size() >= 2);
  CHECK_FALSE(report.rounds[0].aggregated);
  CHECK(report.rounds[0].clients == 1);
  CHECK(report.rounds[0].failures == 5);
  CHECK(report.initial_global == model::initial_weights("cnn", s.experiment.seed));
  auto said = [&](const std::string& text) {
    return std::any_of(observer->warnings.begin(), observer->warnings.end(),
                       [&](const std::string& w) { return w.find(text) != std::string::npos; });
  };
  CHECK(said("initial round 1: 1 of 6 clients answered, below the quorum of 3; the global model is kept"));
  CHECK(said("only 1 clients to cluster; k lowered to 1"));
  REQUIRE(report.clusters.size() == 1);
  CHECK(report.clusters[0].members == std::vector<std::uint32_t>{0});
}

TEST_CASE("rotated MNIST: clusters recover the rotation groups for several seeds and group counts") {
  REQUIRE_MNIST();
  // Only assignments are checked: 8,000 training images (1,000 a client at 4 groups, as in
  // unit-cluster-phase), the global evaluations on 2,000 test images.
  auto data = test::mnist_subset(8000, 2000);
  struct variant {
    const char* seed;
    std::uint32_t groups;
  };
  for (auto v : {variant{"seed=1", 2}, variant{"seed=5", 3}, variant{"seed=9", 4}}) {
    auto g = std::to_string(v.groups);
    auto s = config::settings_from(config::resolve_config(
        "config/rotated_mnist.json",
        {v.seed, "clients=" + std::to_string(2 * v.groups), "partition.groups=" + g, "clustering.k=" + g,
         "rounds.initial=1", "rounds.cluster=1", "clustering.sketch_dim=0"}));
    auto report = runtime::run_experiment(s, data, std::make_shared<recording_observer>());
    CAPTURE(v.seed);
    CAPTURE(v.groups);
    // Clients c and c + groups share group c % groups: same cluster exactly when same group.
    for (std::uint32_t a = 0; a < s.experiment.clients; ++a)
      for (std::uint32_t b = 0; b < s.experiment.clients; ++b)
        CHECK((report.assignment[a] == report.assignment[b]) == (a % v.groups == b % v.groups));
  }
}

TEST_CASE("clustering on 64-dimensional sketches finds the clusters of full-weight K-means") {
  REQUIRE_MNIST();
  auto data = test::mnist_subset(8000, 2000);
  std::vector<std::string> base{"clients=12", "partition.groups=4", "clustering.k=4", "rounds.initial=1",
                                "rounds.cluster=0", "seed=3"};
  auto with = [&](const char* sketch) {
    auto o = base;
    o.push_back(sketch);
    return config::settings_from(config::resolve_config("config/rotated_mnist.json", o));
  };
  auto full = runtime::run_experiment(with("clustering.sketch_dim=0"), data, std::make_shared<recording_observer>());
  auto sketched = runtime::run_experiment(with("clustering.sketch_dim=64"), data, std::make_shared<recording_observer>());
  CHECK(sketched.assignment == full.assignment);
  CHECK(std::set<std::uint32_t>(full.assignment.begin(), full.assignment.end()).size() == 4);
}

TEST_CASE("a CIFAR-10 run goes end to end on 32x32 RGB images") {
  test::temp_dir dir;
  // Ten records per batch file, in the binary version's layout: label byte + 3 x 1024 pixels.
  auto batch = [](int first) {
    std::vector<unsigned char> out;
    for (int i = 0; i < 10; ++i) {
      out.push_back(static_cast<unsigned char>((first + i) % 10));
      for (int p = 0; p < 3072; ++p)
        out.push_back(static_cast<unsigned char>((p * 7 + i * 13 + first) % 256));
    }
    return out;
  };
  for (int b = 1; b <= 5; ++b)
    test::write_bytes(dir.file("data_batch_" + std::to_string(b) + ".bin"), batch(b * 10));
  test::write_bytes(dir.file("test_batch.bin"), batch(0));
  auto s = config::settings_from(config::resolve_config(
      "", {"data.dataset=cifar10", "data.root=" + dir.path().string(), "model.name=cifar_cnn", "clients=4",
           "clustering.k=2", "rounds.initial=1", "rounds.cluster=1", "runtime.trainers=2"}));
  auto data = data::load_dataset(s.data);
  REQUIRE(data->train.count == 50);
  CHECK(data->train.channels == 3);

  auto report = runtime::run_experiment(s, data, std::make_shared<recording_observer>());

  CHECK(report.rounds.size() == 3);
  CHECK(report.global_model.size() == model::spec_of("cifar_cnn").parameters);
  CHECK(report.clusters.size() == 2);
}

TEST_CASE_FIXTURE(small_run, "a cluster phase that loses every client fails the run instead of reporting nothing") {
  std::string faults = "faults=[";
  for (int i = 0; i < 6; ++i)
    faults += std::string(i ? "," : "") + R"({"target": )" + std::to_string(i) +
              R"(, "kind": "crash", "phase": "cluster", "round": 1})";
  faults += "]";
  auto observer = std::make_shared<recording_observer>();
  try {
    runtime::run_experiment(settings({faults}), data, observer);
    FAIL("the run succeeded with every client crashed");
  } catch (const runtime::run_error& e) {
    CHECK(e.cause() == runtime::run_error::kind::other);
    CHECK(std::string(e.what()).find("every cluster failed, so the cluster phase has no result") != std::string::npos);
  }
}
