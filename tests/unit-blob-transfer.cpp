// Large weights between processes (issue 15): a blob above the chunk size leaves as a reference,
// the receiver pulls it in chunks (a window at a time) and an aggregation point folds a remote
// update chunk by chunk. Serialization is the real one (what BASP does), under CAF's
// deterministic scheduler.
#include <doctest/doctest.h>

#include <caf/test/dsl.hpp>

#include <cmath>

#include "actors/blob_transfer.hpp"
#include "actor_fixtures.hpp"
#include "actors/errors.hpp"
#include "actors/round_engine.hpp"

using namespace flotilla;
using namespace flotilla::actors;

namespace {

using test::protocol_config;
using test::start_atom;

// What the wire does to a value: serialize it as BASP would, read it back.
template <class T>
T over_the_wire(caf::actor_system& sys, const T& x) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  auto copy = x;
  if (auto err = sink(copy))
    FAIL("serialize: " << sys.render(err));
  T out;
  caf::binary_deserializer source{sys, buf};
  if (auto err = source(out))
    FAIL("deserialize: " << sys.render(err));
  return out;
}

std::vector<float> ramp(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = scale * static_cast<float>(i % 97) / 97.0f;
  return v;
}

struct fixture : test_coordinator_fixture<protocol_config> {
  fixture() {
    transfer_settings t;
    t.chunk_floats = 16; // a 100-float model travels as 7 chunks
    t.window = 2;
    t.stream_above_floats = 0; // aggregation points fold every remote update chunk by chunk
    set_transfer_settings(t);
    start_blob_server(sys);
  }
  ~fixture() {
    stop_blob_server(sys);
    set_transfer_settings({});
  }
};

struct fetched {
  std::string error;
  weight_blob blob;
  bool done = false;
};

// fetch_blob(b, expected) in a fresh actor, run to completion.
template <class Fixture>
std::shared_ptr<fetched> fetch_in_actor(Fixture& fx, const weight_blob& b, std::size_t expected) {
  auto out = std::make_shared<fetched>();
  auto receiver = fx.sys.spawn([=](caf::event_based_actor* self) -> caf::behavior {
    return {[=](start_atom) {
      fetch_blob(self, b, expected, [out](std::string error, weight_blob got) {
        out->error = error;
        out->blob = std::move(got);
        out->done = true;
      });
    }};
  });
  fx.self->send(receiver, start_atom::value);
  fx.sched.run();
  REQUIRE(out->done);
  return out;
}

// Answers fits with `w`, as a client on another node would: through the wire.
caf::behavior remote_client(caf::event_based_actor* self, std::uint32_t id, std::vector<float> w) {
  return {[=](fit_atom, const fit_ins& in) {
    fit_result r{id, in.config.round, 10, 0.5, 0, 0, weight_blob{7, w}};
    return over_the_wire(self->system(), r);
  }};
}

struct host_state {
  std::shared_ptr<down_watch> watch;
  std::unique_ptr<fl::strategy> strategy;
};

} // namespace

TEST_CASE_FIXTURE(fixture, "a small blob travels inline, a large one as a reference that fetches to the same floats") {
  auto small = over_the_wire(sys, weight_blob{7, ramp(16, 1)});
  CHECK_FALSE(small.pending());
  CHECK(small.values() == ramp(16, 1));
  CHECK(shared_blob_count() == 0);

  auto large = over_the_wire(sys, weight_blob{7, ramp(100, 2)});
  REQUIRE(large.pending());
  CHECK(large.size() == 100);
  CHECK(large.layout == 7);
  CHECK(shared_blob_count() == 1);

  auto out = fetch_in_actor(*this, large, 100);
  CHECK(out->error.empty());
  CHECK(out->blob.layout == 7);
  CHECK(out->blob.values() == ramp(100, 2));
  CHECK(shared_blob_count() == 0); // the receiver said it was done
}

TEST_CASE_FIXTURE(fixture, "a reference of the wrong size is refused before anything is allocated") {
  auto large = over_the_wire(sys, weight_blob{7, ramp(100, 2)});
  auto out = fetch_in_actor(*this, large, 50);
  CHECK(out->error == "the sender announced 100 weights, the model has 50");
  CHECK(shared_blob_count() == 0);
}

TEST_CASE_FIXTURE(fixture, "a blob no longer shared fails the fetch with a reason") {
  auto large = over_the_wire(sys, weight_blob{7, ramp(100, 2)});
  stop_blob_server(sys); // forgets every shared blob
  start_blob_server(sys);
  auto out = fetch_in_actor(*this, large, 100);
  CHECK(out->error.find("fetching floats from 0") != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "a chunk request beyond the blob or above the cap is refused by the server") {
  auto large = over_the_wire(sys, weight_blob{7, ramp(100, 2)});
  REQUIRE(large.pending());
  auto ref = *large.ref;
  std::string beyond, above;
  auto first = self->request(ref.source, caf::infinite, chunk_atom::value, ref.id, std::uint64_t{99}, std::uint64_t{2});
  sched.run();
  first.receive([](blob_chunk&) { FAIL("answered"); }, [&](caf::error& e) { beyond = sys.render(e); });
  auto second = self->request(ref.source, caf::infinite, chunk_atom::value, ref.id, std::uint64_t{0},
                              std::uint64_t{1} << 30);
  sched.run();
  second.receive([](blob_chunk&) { FAIL("answered"); }, [&](caf::error& e) { above = sys.render(e); });
  CHECK(beyond.find("a chunk request for floats [99, +2) of 100") != std::string::npos);
  CHECK(above.find("a chunk request") != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "remote updates fold chunk by chunk into the same model as local ones") {
  std::vector<std::vector<float>> updates{ramp(100, 1), ramp(100, -3), ramp(100, 0.5f)};
  auto run = [&](bool remote, bool poisoned_last) {
    std::vector<peer> peers;
    for (std::uint32_t i = 0; i < updates.size(); ++i) {
      auto w = updates[i];
      if (poisoned_last && i + 1 == updates.size())
        w[90] = std::nanf(""); // in the last chunk: six chunks were summed before it
      auto h = remote ? sys.spawn(remote_client, i, w) : sys.spawn([i, w](caf::event_based_actor*) -> caf::behavior {
        return {[=](fit_atom, const fit_ins& in) { return fit_result{i, in.config.round, 10, 0.5, 0, 0, weight_blob{7, w}}; }};
      });
      peers.push_back({i, h});
    }
    auto outcome = std::make_shared<std::optional<round_outcome>>();
    auto host = sys.spawn([=](caf::stateful_actor<host_state>* self) -> caf::behavior {
      self->state.watch = down_watch::install(self);
      fl::strategy_options o;
      o.name = "fedavg";
      self->state.strategy = fl::make_strategy(o);
      return {[=](start_atom) {
        round_inputs in;
        in.header.phase = "cluster";
        in.header.round = 1;
        in.available = peers;
        in.model = weight_blob{7, std::vector<float>(100, 0.0f)};
        in.fraction_fit = 1;
        in.quorum = 0.5;
        in.timeout_s = 30;
        auto eval = [](const weight_blob&, const std::vector<failure>&, std::function<void(eval_summary)> cb) {
          cb({{}, 10, 0.1, 0.9});
        };
        run_round(*self->state.watch, *self->state.strategy, in, eval, [outcome](round_outcome o) { *outcome = std::move(o); });
      }};
    });
    self->send(host, start_atom::value);
    sched.run();
    REQUIRE(outcome->has_value());
    return **outcome;
  };
  auto local = run(false, false);
  auto remote = run(true, false);
  REQUIRE(local.record.aggregated);
  REQUIRE(remote.record.aggregated);
  CHECK(remote.record.clients == 3);
  CHECK(remote.model.values() == local.model.values());
  CHECK(shared_blob_count() == 0);
  // Below the streaming threshold the updates are fetched whole: the same model again.
  auto t = current_transfer_settings();
  t.stream_above_floats = 1000;
  set_transfer_settings(t);
  auto whole = run(true, false);
  CHECK(whole.model.values() == local.model.values());
  CHECK(shared_blob_count() == 0);
  t.stream_above_floats = 0;
  set_transfer_settings(t);

  // A NaN in the last chunk: the chunks already summed are fetched again and withdrawn, so the
  // model is exactly the mean of the two good updates.
  auto bad_local = run(false, true);
  auto bad_remote = run(true, true);
  REQUIRE(bad_remote.record.aggregated);
  CHECK(bad_remote.record.clients == 2);
  REQUIRE(bad_remote.record.failed.size() == 1);
  CHECK(bad_remote.record.failure_reasons[0].find("non-finite") != std::string::npos);
  CHECK(bad_remote.model.values() == bad_local.model.values());
  CHECK(shared_blob_count() == 0);
}

TEST_CASE_FIXTURE(fixture, "a hostile reference is refused by the deserializer") {
  auto decode = [&](std::uint8_t mode, std::uint64_t id, std::uint64_t floats, bool with_source) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    std::uint64_t layout = 7;
    caf::actor source = with_source ? caf::actor{self.ptr()} : caf::actor{};
    if (sink(layout, mode) || (mode == 1 && sink(source, id, floats)))
      FAIL("serialize");
    weight_blob w;
    caf::binary_deserializer in{sys, buf};
    auto err = in(w);
    return std::make_pair(err ? sys.render(err) : std::string{}, w);
  };
  auto [unknown, w1] = decode(2, 0, 0, false);
  CHECK(unknown.find("unknown weight blob encoding 2") != std::string::npos);
  auto [huge, w2] = decode(1, 5, std::uint64_t{1} << 40, true);
  CHECK(huge.find("a blob reference of 1099511627776 floats") != std::string::npos);
  CHECK_FALSE(w2.pending());
  auto [nobody, w3] = decode(1, 5, 100, false);
  CHECK(nobody.find("from a known sender") != std::string::npos);
  auto [fine, w4] = decode(1, 5, 100, true);
  CHECK(fine.empty());
  CHECK(w4.pending());
}
