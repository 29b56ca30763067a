#include <doctest/doctest.h>

#include "config/config.hpp"
#include "config/coordinator_memory.hpp"
#include "config/settings.hpp"
#include "fl/strategy.hpp"
#include "fixtures.hpp"

using namespace flotilla;
using config::config_error;

TEST_CASE("defaults resolve to valid settings") {
  auto s = config::settings_from(config::resolve_config("", {}));
  CHECK(s.experiment.clients == 10);
  CHECK(s.model.name == "cnn");
  CHECK(s.partition.scheme == "iid");
}

TEST_CASE("overrides take dotted keys and typed values") {
  auto c = config::resolve_config("", {"clients=16", "partition.scheme=rotated", "train.lr=0.1",
                                    "runtime.nodes=a:1,b:2", "output.save_models=false"});
  auto s = config::settings_from(c);
  CHECK(s.experiment.clients == 16);
  CHECK(s.partition.scheme == "rotated");
  CHECK(s.train.lr == doctest::Approx(0.1));
  CHECK(s.runtime.nodes == std::vector<std::string>{"a:1", "b:2"});
  CHECK_FALSE(s.output.save_models);
  SUBCASE("a real given as a whole number stays a real: a later override may set a fraction") {
    auto j = config::resolve_config("", {"privacy.clip=1", "privacy.clip=0.05", "train.lr=1", "clients=8.0"});
    CHECK(config::settings_from(j).experiment.privacy.clip == doctest::Approx(0.05));
    CHECK(config::settings_from(j).train.lr == 1.0);
    CHECK(j["clients"].is_number_integer()); // an integer key still takes 8.0 as 8
    CHECK_THROWS_AS(config::resolve_config("", {"clients=8.5"}), config::config_error);
  }
  SUBCASE("lists as JSON too") {
    auto j = config::resolve_config("", {R"(runtime.nodes=["h:4242"])"});
    CHECK(config::settings_from(j).runtime.nodes == std::vector<std::string>{"h:4242"});
  }
}

TEST_CASE("a file is merged over the defaults and overrides over the file") {
  test::temp_dir dir;
  {
    std::ofstream out(dir.file("c.json"));
    out << R"({"clients": 6, "clustering": {"k": 3}})";
  }
  auto s = config::settings_from(config::resolve_config(dir.file("c.json"), {"clients=5"}));
  CHECK(s.experiment.clients == 5);
  CHECK(s.experiment.clustering.k == 3);
  CHECK(s.experiment.rounds.initial == 3);
}

TEST_CASE("presets in config/ are valid") {
  for (auto name : {"config/rotated_mnist.json"}) {
    CAPTURE(name);
    CHECK_NOTHROW(config::settings_from(config::resolve_config(name, {})));
  }
}

TEST_CASE("unknown keys name the closest valid key") {
  CHECK_THROWS_WITH_AS(config::resolve_config("", {"rounds.inital=3"}),
                       "unknown config key 'rounds.inital'; did you mean 'rounds.initial'? "
                       "(`flotilla config` lists every key)",
                       config_error);
  CHECK_THROWS_WITH_AS(config::resolve_config("", {"clinets=3"}),
                       "unknown config key 'clinets'; did you mean 'clients'? "
                       "(`flotilla config` lists every key)",
                       config_error);
}

TEST_CASE("wrong types and ranges name the key and what is allowed") {
  CHECK_THROWS_WITH_AS(config::resolve_config("", {"clients=many"}),
                       "config key 'clients' must be an integer, got \"many\"", config_error);
  CHECK_THROWS_WITH_AS(config::resolve_config("", {"clients=2.5"}),
                       "config key 'clients' must be an integer, got 2.5", config_error);
  CHECK_THROWS_WITH_AS(config::settings_from(config::resolve_config("", {"clients=-1"})),
                       "config key 'clients' = -1 is out of range; allowed: 0 to 1000000", config_error);
  CHECK_THROWS_WITH_AS(config::settings_from(config::resolve_config("", {"partition.scheme=random"})),
                       "config key 'partition.scheme' = \"random\" is not allowed; allowed: iid, "
                       "dirichlet, shards, rotated, label_swap, natural",
                       config_error);
  CHECK_THROWS_WITH_AS(config::settings_from(config::resolve_config("", {"clustering.k=11"})),
                       "config key 'clustering.k' = 11 is more than clients = 10; allowed: 1 to the "
                       "number of clients, or \"auto\"",
                       config_error);
  CHECK_THROWS_WITH_AS(config::settings_from(config::resolve_config("", {"model.name=cifar_cnn"})),
                       "model.name=cifar_cnn does not fit data.dataset=mnist (1x28x28 samples, 10 classes): it takes "
                       "3x32x32; use cnn or mcmahan_cnn or wide_mlp or mclr or mlp for mnist",
                       config_error);
  CHECK_THROWS_WITH_AS(config::resolve_config("", {"clients"}),
                       "override 'clients' is not of the form key=value (e.g. clients=8)", config_error);
}

TEST_CASE("your own data and models: the keys are read and checked") {
  auto s = config::settings_from(config::resolve_config(
    "", {"data.dataset=synthetic_fedprox", "data.alpha=0.5", "data.beta=1", "data.users=40", "model.name=mlp",
         "model.hidden=[64]", "partition.scheme=natural", "rounds.stragglers=0.5", "strategy.stragglers=keep",
         "train.epochs=7", "seed=9"}));
  CHECK(s.data.alpha == 0.5);
  CHECK(s.data.beta == 1);
  CHECK(s.data.users == 40);
  CHECK(s.data.seed == 9); // generated data is a function of the experiment's seed
  CHECK(s.model.hidden == std::vector<std::size_t>{64});
  CHECK(s.experiment.rounds.stragglers.fraction == 0.5);
  CHECK(s.experiment.rounds.stragglers.policy == "keep");
  CHECK(s.experiment.rounds.epochs == 7);
  auto choice = config::fitted_model(s, {1, 1, 60}, 10);
  CHECK(choice.describe() == "mlp (1x1x60 -> 64 -> 10)");

  auto refused = [](std::vector<std::string> overrides, const std::string& message) {
    CAPTURE(message);
    CHECK_THROWS_WITH_AS(config::settings_from(config::resolve_config("", overrides)), message.c_str(), config_error);
  };
  refused({"data.dataset=synthetic_fedprox"},
          "model.name=cnn does not fit data.dataset=synthetic_fedprox (60-feature samples, 10 classes): it takes 1x28x28; "
          "use mclr or mlp for synthetic_fedprox");
  refused({"clients=0"}, "config key 'clients' = 0 means every natural client and needs partition.scheme=natural; "
                         "give a number of clients");
  refused({"data.dataset=tensors", "model.name=mclr"},
          "data.dataset=tensors reads data.file: set it to the file torch.save wrote (README, Your own data)");
  refused({"model.name=mlp", "model.hidden=[]"},
          "config key 'model.hidden' = [] gives model.name=mlp no hidden layer; give sizes, e.g. [200, 200]");
  refused({"model.hidden=[0]"}, "config key 'model.hidden': 0 is not a layer size (1 to 1000000)");
  refused({"strategy.stragglers=sometimes"},
          "config key 'strategy.stragglers' = \"sometimes\" is not allowed; allowed: auto, drop, keep");
  refused({"rounds.stragglers=1.5"}, "config key 'rounds.stragglers' = 1.5 is out of range; allowed: 0 to 1");
  refused({"rounds.stragglers=1", "strategy.stragglers=drop"},
          "config key 'rounds.stragglers' = 1 with stragglers dropped leaves no one to train; lower it, or set "
          "strategy.stragglers=keep");
  // Krum needs 2f + 3 = 5 updates: a sample of 5 less its dropped straggler cannot aggregate.
  auto krum = std::vector<std::string>{"strategy.name=krum", "strategy.byzantine=1", "rounds.fraction_fit=0.5",
                                       "clustering.k=1", "rounds.cluster=0"};
  CHECK_NOTHROW(config::settings_from(config::resolve_config("", krum)));
  krum.push_back("rounds.stragglers=0.2");
  CHECK_THROWS_AS(config::settings_from(config::resolve_config("", krum)), config_error);
  krum.push_back("strategy.stragglers=keep");
  CHECK_NOTHROW(config::settings_from(config::resolve_config("", krum)));
}

TEST_CASE("device profiles are read and checked") {
  auto s = config::settings_from(config::resolve_config(
      "", {R"(selection.profiles=[{"clients": [1, 2], "cpu": 80, "mem": 10}])"}));
  REQUIRE(s.profiles.size() == 1);
  CHECK(s.profiles[0].clients == std::vector<std::uint32_t>{1, 2});
  CHECK(s.profiles[0].cpu == 80);
  CHECK_THROWS_WITH_AS(
      config::settings_from(config::resolve_config("", {R"(selection.profiles=[{"clients": [99]}])"})),
      "selection.profiles: client 99 is not a client id (0 to clients-1)", config_error);
}

TEST_CASE("a bad config file is reported with its name") {
  test::temp_dir dir;
  {
    std::ofstream out(dir.file("bad.json"));
    out << "{ clients: 3 }";
  }
  CHECK_THROWS_AS(config::resolve_config(dir.file("bad.json"), {}), config_error);
  CHECK_THROWS_WITH_AS(config::resolve_config(dir.file("none.json"), {}),
                       ("config file '" + dir.file("none.json") + "' cannot be read (does it exist?)").c_str(),
                       config_error);
}

TEST_CASE("the strategy subtree is read as data, every key against the strategies' declared knobs") {
  auto doc = config::resolve_config("", {});
  auto s = config::settings_from(doc);
  // config/default.json holds every declared knob at its declared default, and nothing else.
  const auto& subtree = doc.at("strategy");
  CHECK(subtree.size() == fl::all_knobs().size() + 9); // + name, stragglers and strategy.mode with its 6 knobs
  for (const auto& k : fl::all_knobs()) {
    REQUIRE_MESSAGE(subtree.contains(k.key), k.key);
    CHECK_MESSAGE(subtree.at(k.key).get<double>() == k.default_value, k.key);
    CHECK_MESSAGE(subtree.at(k.key).is_number_integer() == k.integer, k.key);
    CHECK(s.experiment.strategy.knob(k.key) == k.default_value);
  }
  CHECK(s.experiment.strategy.knobs.size() == fl::all_knobs().size());
  auto refuse = [](std::vector<std::string> o, const std::string& message) {
    CHECK_THROWS_WITH_AS(config::settings_from(config::resolve_config("", o)), message.c_str(), config_error);
  };
  // Today's ranges, from the declarations.
  refuse({"strategy.server_lr=101"}, "config key 'strategy.server_lr' = 101 is out of range; allowed: 0 to 100");
  refuse({"strategy.server_momentum=1"}, "config key 'strategy.server_momentum' = 1 is out of range; allowed: 0 to 0.999");
  refuse({"strategy.proximal_mu=-1"}, "config key 'strategy.proximal_mu' = -1 is out of range; allowed: 0 to 100");
  refuse({"strategy.beta2=1"}, "config key 'strategy.beta2' = 1 is out of range; allowed: 0 to 0.999999");
  refuse({"strategy.tau=0"}, "config key 'strategy.tau' = 0 is out of range; allowed: 1e-12 to 10");
  refuse({"strategy.trim_fraction=0.5"}, "config key 'strategy.trim_fraction' = 0.5 is out of range; allowed: 0 to 0.49");
  refuse({"strategy.multi_krum=0"}, "config key 'strategy.multi_krum' = 0 is out of range; allowed: 1 to 100000");
  refuse({"strategy.byzantine=1.5"}, "config key 'strategy.byzantine' must be an integer, got 1.5");
  refuse({"strategy.server_lrr=1"}, "unknown config key 'strategy.server_lrr'; did you mean 'strategy.server_lr'? "
                                    "(`flotilla config` lists every key)");
  // A document not merged over the defaults (e.g. one received over the network) is checked too.
  auto raw = doc;
  raw["strategy"]["byzantine"] = 1.5;
  CHECK_THROWS_WITH_AS(config::settings_from(raw), "config key 'strategy.byzantine' = 1.5 is not a whole number",
                       config_error);
  raw = doc;
  raw["strategy"]["momentum"] = 0.5;
  CHECK_THROWS_WITH_AS(config::settings_from(raw),
                       "config key 'strategy.momentum' is not a knob of any strategy; known: name, stragglers, mode, concurrency, buffer, staleness, staleness_exponent, max_staleness, async_alpha, server_lr, "
                       "server_momentum, proximal_mu, beta1, tau, beta2, trim_fraction, byzantine, multi_krum",
                       config_error);
  raw = doc;
  raw["strategy"].erase("tau");
  CHECK_THROWS_AS(config::settings_from(raw), config_error);
}

TEST_CASE("strategy, clustering, fault and late-joiner keys are read and checked") {
  auto s = config::settings_from(config::resolve_config(
    "", {"strategy.name=fedadam", "strategy.server_lr=0.02", "clustering.k=auto", "clustering.method=agglomerative",
         "late_clients=2", "late_join_round=2", R"(faults=[{"target": "server:1", "kind": "hang", "phase": "cluster", "round": 2}])"}));
  CHECK(s.experiment.strategy.name == "fedadam");
  CHECK(s.experiment.strategy.knob("server_lr") == 0.02);
  CHECK(s.experiment.clustering.k == 0);
  CHECK(s.experiment.total_clients() == 12);
  REQUIRE(s.experiment.faults.size() == 1);
  CHECK(s.experiment.faults[0].server_of == 1);
  CHECK(s.experiment.faults[0].kind == "hang");
  auto refuse = [](std::vector<std::string> o, const std::string& message) {
    CHECK_THROWS_WITH_AS(config::settings_from(config::resolve_config("", o)), message.c_str(), config_error);
  };
  refuse({"strategy.name=fedsgd"},
         "config key 'strategy.name' = \"fedsgd\" is not allowed; allowed: fedavg, fedavgm, fedprox, fedadagrad, "
         "fedadam, fedyogi, median, trimmed_mean, krum");
  refuse({"clustering.k=many"}, "config key 'clustering.k' must be an integer, got \"many\"");
  refuse({"clustering.method=cfl", "clustering.k=auto"},
         "config key 'clustering.k' = \"auto\" does not apply to clustering.method=cfl, which starts from one cluster "
         "and splits it");
  refuse({"late_clients=1", "late_join_round=9"},
         "config key 'late_join_round' = 9 is after the last cluster round (rounds.cluster = 3); late clients arrive "
         "before a cluster round: 1 to rounds.cluster");
  refuse({R"(faults=[{"target": "server:2", "kind": "crash", "phase": "cluster", "round": 1}])"},
         R"(faults: {"kind":"crash","phase":"cluster","round":1,"target":"server:2"}: server:2 names no cluster: clusters are 0 to 1 with clustering.k=2; a fault looks like {"target": 3 or "server:0", "kind": "crash" | "hang" | "crash_in_secagg" | "inconsistent_model" | "slow", "phase": "initial" | "cluster", "round": 2, "seconds": 5})");
  refuse({R"(faults=[{"target": "server:0", "kind": "crash", "phase": "initial", "round": 1}])"},
         R"(faults: {"kind":"crash","phase":"initial","round":1,"target":"server:0"}: a server exists only in the cluster phase; a fault looks like {"target": 3 or "server:0", "kind": "crash" | "hang" | "crash_in_secagg" | "inconsistent_model" | "slow", "phase": "initial" | "cluster", "round": 2, "seconds": 5})");
  refuse({R"(faults=[{"target": 10, "kind": "crash", "phase": "cluster", "round": 1}])"},
         R"(faults: {"kind":"crash","phase":"cluster","round":1,"target":10}: target must be a client id (0 to 9) or "server:<cluster id>"; a fault looks like {"target": 3 or "server:0", "kind": "crash" | "hang" | "crash_in_secagg" | "inconsistent_model" | "slow", "phase": "initial" | "cluster", "round": 2, "seconds": 5})");
  refuse({"attack.clients=0,12"}, "config key 'attack.clients': 12 is not a client id (0 to 9)");
  refuse({"rounds.stop_at_target=true"}, "config key 'rounds.stop_at_target' = true needs rounds.target_accuracy above 0");
}

TEST_CASE("runtime and output keys that would misbehave are refused") {
  auto refuse = [](std::vector<std::string> o, const std::string& message) {
    CHECK_THROWS_WITH_AS(config::settings_from(config::resolve_config("", o)), message.c_str(), config_error);
  };
  refuse({"runtime.nodes=host:99999"},
         "config key 'runtime.nodes': \"host:99999\" is not host:port with a port from 1 to 65535");
  refuse({"runtime.nodes=host:abc"}, "config key 'runtime.nodes': \"host:abc\" is not host:port with a port from 1 to 65535");
  refuse({"runtime.heartbeat_s=0"}, "config key 'runtime.heartbeat_s' = 0 is out of range; allowed: 0.05 to 3600");
  refuse({"runtime.heartbeat_s=20"},
         "config key 'runtime.connection_timeout_s' = 30.000000 must exceed twice runtime.heartbeat_s = 20.000000 (a "
         "node is declared hung after missing heartbeats for that long)");
  refuse({"name=../../etc"}, "config key 'name' = \"../../etc\" is not allowed; use letters, digits, '.', '_' and '-' "
                             "(it names the run directory inside output.dir)");
}

TEST_CASE("a node keeps its own machine's settings whatever the coordinator's document says") {
  auto coordinator = config::resolve_config(
    "", {"clients=12", "data.root=/coordinator/only/mnist", "runtime.trainers=1000", "runtime.tls.cert=/nowhere/c.pem",
         "runtime.tls.key=/nowhere/c.key", "runtime.tls.ca=/nowhere/ca.pem", "output.dir=/coordinator/runs"});
  auto s = config::settings_from(config::node_config(coordinator, {"runtime.scheduler_threads=3"}));
  CHECK(s.experiment.clients == 12); // the experiment is the coordinator's
  CHECK(s.data.root.empty());        // the data location, threads, TLS files and outputs are not
  CHECK(s.runtime.trainers == 0);
  CHECK(s.runtime.scheduler_threads == 3);
  CHECK_FALSE(s.runtime.tls.enabled());
  CHECK(s.output.dir == "runs");
  CHECK_THROWS_AS(config::node_config(nlohmann::json{{"clients", "many"}}, {}), config::config_error);
}

TEST_CASE("Krum's f is refused when no round of the run could meet n >= 2f + 3") {
  auto refuse = [](std::vector<std::string> o, const std::string& message) {
    CHECK_THROWS_WITH_AS(config::settings_from(config::resolve_config("", o)), message.c_str(), config_error);
  };
  SUBCASE("the initial rounds") {
    refuse({"clients=4", "strategy.name=krum", "strategy.byzantine=100"},
           "strategy.name=krum cannot aggregate an initial round of 4 clients (clients = 4, rounds.fraction_fit = "
           "1.0): Krum with f = 100 needs at least 203 updates per round (n >= 2f + 3), but the round asks 4 "
           "clients; lower strategy.byzantine to at most 0");
    refuse({"clients=4", "strategy.name=krum", "strategy.multi_krum=100"},
           "strategy.name=krum cannot aggregate an initial round of 4 clients (clients = 4, rounds.fraction_fit = "
           "1.0): Multi-Krum m = 100 must be 1 to n - f = 4 for a round of 4 clients; lower strategy.multi_krum");
    // All rounds but the last ask a sample: 5 of 10 cannot tolerate f = 2.
    refuse({"strategy.name=krum", "strategy.byzantine=2", "rounds.fraction_fit=0.5"},
           "strategy.name=krum cannot aggregate an initial round of 5 clients (clients = 10, rounds.fraction_fit = "
           "0.5): Krum with f = 2 needs at least 7 updates per round (n >= 2f + 3), but the round asks 5 clients; "
           "lower strategy.byzantine to at most 1");
    // One initial round asks everyone (and cluster rounds ask a sample too: none here).
    CHECK_NOTHROW(config::settings_from(config::resolve_config(
      "", {"strategy.name=krum", "strategy.byzantine=2", "rounds.fraction_fit=0.5", "rounds.initial=1",
           "rounds.cluster=0"})));
  }
  SUBCASE("the cluster rounds") {
    // 4 clusters of 10 clients: the largest has at most 7 members, below 2 * 3 + 3.
    refuse({"strategy.name=krum", "strategy.byzantine=3", "clustering.k=4"},
           "strategy.name=krum cannot aggregate any cluster round: with 4 clusters the largest has at most 7 members "
           "and a round asks 7 of them: Krum with f = 3 needs at least 9 updates per round (n >= 2f + 3), but the "
           "round asks 7 clients; lower strategy.byzantine to at most 2");
    CHECK_NOTHROW(config::settings_from(
      config::resolve_config("", {"strategy.name=krum", "strategy.byzantine=3", "clustering.k=4", "rounds.cluster=0"})));
    CHECK_NOTHROW(config::settings_from(
      config::resolve_config("", {"strategy.name=krum", "strategy.byzantine=3", "clustering.k=1"})));
    CHECK_NOTHROW(config::settings_from(config::resolve_config("", {"strategy.name=krum", "strategy.byzantine=2"})));
  }
}

TEST_CASE("settings that would exhaust the coordinator's memory are refused with an estimate") {
  const std::uint64_t gib = 1024ull * 1024 * 1024;
  auto settings = [](std::vector<std::string> o) { return config::settings_from(config::resolve_config("", o)); };
  // The finding's setting: 40 clients x 2^24 sketch floats = 2.5 GiB, refused with 4 GiB.
  auto sketches = settings({"clients=40", "clustering.sketch_dim=16777216"});
  CHECK(config::coordinator_memory(sketches).bytes == 40ull * 16777216 * 4 + 2 * 40 * 40 * 8);
  CHECK_THROWS_WITH_AS(config::check_memory(sketches, 4 * gib),
                       "the coordinator would need about 2.5 GiB for clustering (40 clients x 16777216 features "
                       "(clustering.sketch_dim) x 4 bytes + 2 x 40 x 40 distances x 8 bytes), more than half of the 4.0 "
                       "GiB this process may use (MemTotal, or ulimit -v when lower); lower clients or "
                       "clustering.sketch_dim",
                       config_error);
  CHECK_NOTHROW(config::check_memory(sketches, 8 * gib));
  SUBCASE("without sketches the features are the model's weights") {
    auto full = settings({"clients=1000", "model.name=mcmahan_cnn"});
    CHECK_THROWS_WITH_AS(config::check_memory(full, 8 * gib),
                         "the coordinator would need about 6.2 GiB for clustering (1000 clients x 1663370 features "
                         "(the model's weights: clustering.sketch_dim = 0) x 4 bytes + 2 x 1000 x 1000 distances x 8 "
                         "bytes), more than half of the 8.0 GiB this process may use (MemTotal, or ulimit -v when "
                         "lower); lower clients, or set clustering.sketch_dim (e.g. 4096)",
                         config_error);
  }
  SUBCASE("a strategy that keeps every update holds the weights besides the sketches") {
    auto median = settings({"clients=1000", "model.name=mcmahan_cnn", "clustering.sketch_dim=4096",
                            "strategy.name=median"});
    CHECK(config::coordinator_memory(median).bytes ==
          1000ull * 4096 * 4 + 1000ull * 1663370 * 4 + 2ull * 1000 * 1000 * 8);
  }
  SUBCASE("late clients count, and agglomerative cosine linkage adds its updates") {
    auto late = settings({"late_clients=10", "clustering.method=agglomerative", "clustering.linkage=average"});
    CHECK(config::coordinator_memory(late).bytes == 20ull * 80202 * 4 + 10ull * 80202 * 4 + 2ull * 20 * 20 * 8);
  }
  // The defaults fit anywhere, and this machine's memory is known.
  CHECK(config::coordinator_memory(settings({})).bytes < 16ull * 1024 * 1024);
  CHECK(config::machine_memory_bytes() > 0);
}

TEST_CASE("privacy: adaptive clipping needs DP; a budget must reach the round that feeds clustering under secure "
          "aggregation") {
  auto read = [](std::vector<std::string> o) { return config::settings_from(config::resolve_config("", o)); };
  CHECK_THROWS_WITH_AS(read({"privacy.adaptive_clip=true"}),
                       doctest::Contains("privacy.adaptive_clip moves the clip norm of DP-FedAvg"), config_error);
  auto s = read({"privacy.dp=central", "privacy.adaptive_clip=true", "privacy.target_quantile=0.7", "privacy.clip_lr=0.1"});
  CHECK(s.experiment.privacy.adaptive_clip);
  CHECK(s.experiment.privacy.clip_rule.target_quantile == 0.7);
  CHECK(s.experiment.privacy.clip_rule.learning_rate == 0.1);
  CHECK_THROWS_AS(read({"privacy.dp=central", "privacy.target_quantile=1.5"}), config_error);
  // 12 clients, 3 initial rounds, sigma 0.3: epsilon passes 35 at round 3, which feeds clustering.
  std::vector<std::string> o{"clients=12", "rounds.initial=3", "privacy.dp=central", "privacy.noise_multiplier=0.3",
                             "privacy.epsilon_budget=35", "privacy.secure_aggregation=true"};
  CHECK_THROWS_WITH_AS(read(o), doctest::Contains("the one that feeds clustering"), config_error);
  o.back() = "privacy.secure_aggregation=false"; // in the clear the earlier rounds' weights are there to cluster on
  CHECK_NOTHROW(read(o));
  o.back() = "clustering.method=none"; // no clustering: the budget just ends the rounds
  o.push_back("rounds.cluster=0");
  o.push_back("privacy.secure_aggregation=true");
  CHECK_NOTHROW(read(o));
}

TEST_CASE("privacy: secure aggregation with FedBuff needs a buffer of min_cluster; FedAsync is refused") {
  auto read = [](std::vector<std::string> o) { return config::settings_from(config::resolve_config("", o)); };
  std::vector<std::string> o{"privacy.secure_aggregation=true", "strategy.mode=buffered", "strategy.concurrency=6",
                             "strategy.buffer=3"};
  CHECK(read(o).experiment.async.mode == "buffered");
  o.back() = "strategy.buffer=2"; // a sum of two would show each member the other's update
  CHECK_THROWS_WITH_AS(read(o), doctest::Contains("below privacy.min_cluster = 3"), config_error);
  o.push_back("privacy.min_cluster=2");
  CHECK_NOTHROW(read(o));
  CHECK_THROWS_WITH_AS(read({"privacy.secure_aggregation=true", "strategy.mode=async", "strategy.concurrency=6"}),
                       doctest::Contains("use strategy.mode=buffered"), config_error);
}
