// config/key_classes.json: which keys are a machine's, which a resume may change.
#include <doctest/doctest.h>

#include "config/config.hpp"
#include "config/key_classes.hpp"

using namespace flotilla;

TEST_CASE("machine-local keys are listed keys and everything under a listed prefix") {
  CHECK(config::is_machine_key("data.root"));
  CHECK(config::is_machine_key("runtime.tls.ca"));
  CHECK(config::is_machine_key("output.dir"));
  CHECK_FALSE(config::is_machine_key("data.train_limit"));
  CHECK_FALSE(config::is_machine_key("data"));
  CHECK_FALSE(config::is_machine_key("runtimes"));
  CHECK(config::is_resumable_key("data.root"));
  CHECK(config::is_resumable_key("runtime.nodes"));
  CHECK(config::is_resumable_key("output.progress"));
  CHECK_FALSE(config::is_resumable_key("output.run_dir"));
  CHECK_FALSE(config::is_resumable_key("seed"));
}

TEST_CASE("every resumable key is machine-local, and every listed key exists") {
  // A resumable key in the run's identity would make every resume refuse its own checkpoint.
  auto defaults = config::default_config();
  for (const auto& key : config::dotted_keys(defaults))
    if (config::is_resumable_key(key))
      CHECK_MESSAGE(config::is_machine_key(key), key);
  auto stripped = config::experiment_part(defaults);
  CHECK_FALSE(stripped.contains("runtime"));
  CHECK_FALSE(stripped.contains("output"));
  CHECK_FALSE(stripped["data"].contains("root"));
  CHECK(stripped["data"].contains("train_limit"));
  CHECK_FALSE(stripped["data"].contains("file"));
  CHECK_FALSE(stripped["model"].contains("file")); // its SHA-256 is in the run id instead
  CHECK(stripped["model"].contains("buffers"));
  CHECK_FALSE(stripped["rounds"].contains("eval_every")); // added later: at its default, no part of it
  CHECK_FALSE(stripped["data"].contains("test_limit"));   // likewise
  CHECK_FALSE(stripped.contains("privacy"));              // likewise, the whole section at its defaults
  CHECK(config::dotted_keys(stripped).size() + 15 + config::dotted_keys(defaults["runtime"]).size() +
            config::dotted_keys(defaults["output"]).size() ==
        config::dotted_keys(defaults).size());
}

TEST_CASE("a node takes the experiment from the coordinator and keeps its own machine keys") {
  auto coordinator = config::resolve_config("", {"seed=7", "data.root=/theirs", "runtime.trainers=9", "output.dir=x"});
  auto mine = config::resolve_config("", {"data.root=/mine", "runtime.trainers=2"});
  auto merged = config::with_machine_keys_of(coordinator, mine);
  CHECK(merged["seed"] == 7);
  CHECK(merged["data"]["root"] == "/mine");
  CHECK(merged["runtime"]["trainers"] == 2);
  CHECK(merged["output"]["dir"] == "runs");
}

TEST_CASE("a key added later leaves an older run's identity alone at its default, and changes it otherwise") {
  auto older = config::default_config();
  older["rounds"].erase("eval_every"); // the config.json of a run written before the key existed
  auto now = config::default_config();
  CHECK(config::run_id(older, "data") == config::run_id(now, "data"));
  now["rounds"]["eval_every"] = 5;
  CHECK(config::run_id(older, "data") != config::run_id(now, "data"));
}
