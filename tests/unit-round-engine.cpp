// The round engine and fan-out under CAF's deterministic scheduler: deadlines fire when the
// test says so (no wall-clock waits), DOWN fails a request at once, each request settles once.
#include <doctest/doctest.h>

#include <caf/test/dsl.hpp>

#include "actor_fixtures.hpp"
#include "actors/errors.hpp"
#include "actors/fan_out.hpp"
#include "actors/round_engine.hpp"

using namespace flotilla;
using namespace flotilla::actors;

namespace {

using test::protocol_config;
using test::start_atom;

// A client double that answers fits with fixed weights, or with an error, or never.
caf::behavior answering(caf::event_based_actor*, std::uint32_t id, std::vector<float> w, std::uint64_t samples) {
  return {[=](fit_atom, const fit_ins& in) {
    return fit_result{id, in.config.round, samples, 0.25, 0, 0, weight_blob{7, w}};
  }};
}

caf::behavior failing(caf::event_based_actor*) {
  return {[](fit_atom, const fit_ins&) -> caf::result<fit_result> {
    return make_error(errc::model_error, "training diverged: loss is nan");
  }};
}

caf::behavior silent(caf::event_based_actor* self) {
  self->set_default_handler([](caf::scheduled_actor*, caf::message_view&) -> caf::result<caf::message> {
    return caf::delegated<caf::message>{};
  });
  return {[](int) {}};
}

struct host_state {
  std::shared_ptr<down_watch> watch;
  std::unique_ptr<fl::strategy> strategy;
};

fl::strategy_options fedavg() {
  fl::strategy_options o;
  o.name = "fedavg";
  return o;
}

struct fixture : test_coordinator_fixture<protocol_config> {
  std::shared_ptr<std::optional<round_outcome>> outcome = std::make_shared<std::optional<round_outcome>>();

  // An aggregation point that runs one FedAvg round over `peers` when told to start.
  caf::actor host(std::vector<peer> peers, double quorum, fl::strategy_options o = fedavg()) {
    auto out = outcome;
    return sys.spawn([=](caf::stateful_actor<host_state>* self) -> caf::behavior {
      self->state.watch = down_watch::install(self);
      self->state.strategy = fl::make_strategy(o);
      return {[=](start_atom) {
        round_inputs in;
        in.header.phase = "initial";
        in.header.round = 1;
        in.available = peers;
        in.model = weight_blob{7, std::vector<float>{0, 0}};
        in.fraction_fit = 1;
        in.quorum = quorum;
        in.timeout_s = 30;
        auto eval = [](const weight_blob&, const std::vector<failure>&, std::function<void(eval_summary)> cb) {
          cb({{}, 10, 0.1, 0.9});
        };
        run_round(*self->state.watch, *self->state.strategy, in, eval, [out](round_outcome o) { *out = std::move(o); });
      }};
    });
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "a silent client fails at the deadline, not before, and the round completes without it") {
  auto a = sys.spawn(answering, 0u, std::vector<float>{1, 2}, 1u);
  auto b = sys.spawn(answering, 1u, std::vector<float>{3, 6}, 3u);
  auto quiet = sys.spawn(silent);
  auto h = host({{0, a}, {1, b}, {2, quiet}}, 0.5);
  self->send(h, start_atom::value);
  consume_messages();
  CHECK_FALSE(outcome->has_value()); // two answers are in, the third is still pending
  trigger_timeouts();
  consume_messages();
  REQUIRE(outcome->has_value());
  const auto& o = **outcome;
  CHECK(o.record.aggregated);
  CHECK(o.record.asked == 3);
  CHECK(o.record.clients == 2);
  CHECK(o.record.failed == std::vector<std::uint32_t>{2});
  CHECK(o.record.failure_reasons.front().find("timeout") != std::string::npos);
  CHECK(o.model.values() == std::vector<float>{2.5f, 5.0f}); // (1 * [1, 2] + 3 * [3, 6]) / 4
  CHECK(o.record.test_accuracy == 0.9);
  anon_send_exit(quiet, caf::exit_reason::kill);
}

TEST_CASE_FIXTURE(fixture, "a client that goes down fails at once, without waiting for its deadline") {
  auto a = sys.spawn(answering, 0u, std::vector<float>{1, 1}, 1u);
  auto quiet = sys.spawn(silent);
  auto h = host({{0, a}, {1, quiet}}, 0.5);
  self->send(h, start_atom::value);
  consume_messages();
  CHECK_FALSE(outcome->has_value());
  anon_send_exit(quiet, caf::exit_reason::kill);
  consume_messages(); // no timeout triggered
  REQUIRE(outcome->has_value());
  CHECK((*outcome)->record.failed == std::vector<std::uint32_t>{1});
  CHECK((*outcome)->record.failure_reasons.front().rfind("gone: ", 0) == 0);
}

TEST_CASE_FIXTURE(fixture, "below the quorum the model is kept and the failures keep their error codes") {
  auto a = sys.spawn(answering, 0u, std::vector<float>{1, 1}, 1u);
  auto f1 = sys.spawn(failing);
  auto f2 = sys.spawn(failing);
  auto h = host({{0, a}, {1, f1}, {2, f2}}, 0.9);
  self->send(h, start_atom::value);
  consume_messages();
  REQUIRE(outcome->has_value());
  const auto& o = **outcome;
  CHECK_FALSE(o.record.aggregated);
  CHECK(o.record.not_aggregated == "1 of 3 clients sent a usable update, below the quorum of 3: 2 refused as diverged "
                                   "(a non-finite loss, or weights not finite or beyond +-1e6; see failure_reasons)");
  CHECK_FALSE(o.fatal); // one client's update was usable: another round may do better
  CHECK(o.model.values() == std::vector<float>{0, 0});
  REQUIRE(o.failures.size() == 2);
  CHECK(o.failures[0].code == errc::model_error);
  CHECK(o.failures[0].reason == "training diverged: loss is nan");
}

TEST_CASE_FIXTURE(fixture, "an update of the wrong size is refused as a failure") {
  auto a = sys.spawn(answering, 0u, std::vector<float>{1, 1}, 1u);
  auto wrong = sys.spawn(answering, 1u, std::vector<float>{1, 1, 1}, 1u);
  auto h = host({{0, a}, {1, wrong}}, 0.5);
  self->send(h, start_atom::value);
  consume_messages();
  REQUIRE(outcome->has_value());
  CHECK((*outcome)->record.failed == std::vector<std::uint32_t>{1});
  CHECK((*outcome)->record.failure_reasons.front() == "update has 3 weights, the model has 2");
  CHECK((*outcome)->failures.front().code == errc::bad_update);
}

TEST_CASE("quorum_of rounds up and never asks for fewer than one answer") {
  CHECK(quorum_of(10, 0.5) == 5);
  CHECK(quorum_of(3, 0.5) == 2);
  CHECK(quorum_of(3, 0) == 1);
  CHECK(quorum_of(4, 1) == 4);
  CHECK(quorum_of(0, 0.5) == 1);
}

TEST_CASE_FIXTURE(fixture, "a round where every update diverged ends the run as a model error") {
  auto f1 = sys.spawn(failing);
  auto f2 = sys.spawn(failing);
  auto h = host({{1, f1}, {2, f2}}, 0.5);
  self->send(h, start_atom::value);
  consume_messages();
  REQUIRE(outcome->has_value());
  const auto& o = **outcome;
  CHECK_FALSE(o.record.aggregated);
  CHECK(o.record.not_aggregated == "0 of 2 clients sent a usable update, below the quorum of 1: 2 refused as diverged "
                                   "(a non-finite loss, or weights not finite or beyond +-1e6; see failure_reasons)");
  REQUIRE(o.fatal);
  CHECK(code_of(*o.fatal) == errc::model_error);
  CHECK(text_of(sys, *o.fatal) == "no client could train; client 1: training diverged: loss is nan (and 1 more "
                                  "clients alike)");
}

TEST_CASE_FIXTURE(fixture, "a round the strategy can never aggregate at its size asks nobody and says why") {
  auto a = sys.spawn(answering, 0u, std::vector<float>{1, 1}, 1u);
  auto b = sys.spawn(answering, 1u, std::vector<float>{1, 1}, 1u);
  auto c = sys.spawn(answering, 2u, std::vector<float>{1, 1}, 1u);
  auto o = fedavg();
  o.name = "krum";
  o.knobs["byzantine"] = 1;
  o.knobs["multi_krum"] = 1;
  auto h = host({{0, a}, {1, b}, {2, c}}, 0.5, o);
  self->send(h, start_atom::value);
  consume_messages();
  REQUIRE(outcome->has_value());
  const auto& out = **outcome;
  CHECK_FALSE(out.record.aggregated);
  CHECK(out.record.asked == 3);
  CHECK(out.record.clients == 0);
  CHECK(out.record.failures == 0); // nobody trained
  CHECK(out.record.not_aggregated == "krum: Krum with f = 1 needs at least 5 updates per round (n >= 2f + 3), but the "
                                     "round asks 3 clients; lower strategy.byzantine to at most 0");
  REQUIRE(out.fatal);
  CHECK(code_of(*out.fatal) == errc::config_error);
}

TEST_CASE("which failures end the run: only those another round would meet again") {
  auto diverged = failure{3, "training diverged: loss is nan", errc::model_error};
  auto refused = failure{4, "update has a non-finite weight (nan) at index 0", errc::bad_update};
  auto timeout = failure{5, "request_timeout", std::nullopt};
  CHECK_FALSE(round_fatal_error({diverged}, 1));  // someone's update was usable
  CHECK_FALSE(round_fatal_error({}, 0));          // nobody asked, nobody failed
  CHECK_FALSE(round_fatal_error({diverged, timeout}, 0)); // the silent one may answer next time
  caf::actor_system_config cfg;
  add_error_category(cfg);
  caf::actor_system sys{cfg};
  auto e = round_fatal_error({refused}, 0, "; lower strategy.server_lr (100)");
  REQUIRE(e);
  CHECK(code_of(*e) == errc::model_error);
  CHECK(text_of(sys, *e) == "every update was refused as diverged; client 4: update has a non-finite weight (nan) at "
                            "index 0; lower strategy.server_lr (100)");
  auto data = round_fatal_error({failure{1, "node data differs", errc::data_error}}, 0, "; ignored");
  REQUIRE(data);
  CHECK(code_of(*data) == errc::data_error);
  CHECK(text_of(sys, *data) == "no client could train; client 1: node data differs");
  fl::strategy_options o;
  o.name = "fedavgm";
  o.knobs["server_lr"] = 100;
  CHECK(divergence_advice(o) == "; the server's step may be what diverges: lower strategy.server_lr (100)");
  o.name = "fedavg";
  CHECK(divergence_advice(o).empty());
  CHECK(below_quorum(1, 6, 3, {timeout}) == "1 of 6 clients answered, below the quorum of 3");
  CHECK(below_quorum(0, 3, 2, {diverged, refused, timeout}) ==
        "0 of 3 clients sent a usable update, below the quorum of 2: 2 refused as diverged (a non-finite loss, or "
        "weights not finite or beyond +-1e6; see failure_reasons), 1 failed or did not answer");
}
