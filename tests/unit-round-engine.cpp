// The round engine and fan-out under CAF's deterministic scheduler: deadlines fire when the
// test says so (no wall-clock waits), DOWN fails a request at once, each request settles once.
#include <doctest/doctest.h>

#include <caf/test/dsl.hpp>

#include "actors/errors.hpp"
#include "actors/fan_out.hpp"
#include "actors/round_engine.hpp"

using namespace flotilla;
using namespace flotilla::actors;

namespace {

struct protocol_config : caf::actor_system_config {
  protocol_config() { add_protocol_types(*this); }
};

using start_atom = caf::atom_constant<caf::atom("start")>;

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

struct fixture : test_coordinator_fixture<protocol_config> {
  std::shared_ptr<std::optional<round_outcome>> outcome = std::make_shared<std::optional<round_outcome>>();

  // An aggregation point that runs one FedAvg round over `peers` when told to start.
  caf::actor host(std::vector<peer> peers, double quorum) {
    auto out = outcome;
    return sys.spawn([=](caf::stateful_actor<host_state>* self) -> caf::behavior {
      self->state.watch = down_watch::install(self);
      fl::strategy_options o;
      o.name = "fedavg";
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
  CHECK(o.record.not_aggregated == "1 of 3 clients answered, below the quorum of 3");
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
