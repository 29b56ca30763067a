// An exception that escapes an actor ends the run with its class (issue 15, finding 1): before,
// CAF printed "unhandled exception" and the run's caller waited for ever.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <new>

#include "actors/exception_policy.hpp"
#include "actors/protocol.hpp"
#include "config/config.hpp"
#include "config/settings.hpp"
#include "data/data_error.hpp"
#include "fixtures.hpp"
#include "model/model_error.hpp"
#include "runtime/exit_status.hpp"
#include "runtime/local_run.hpp"

using namespace flotilla;
using namespace flotilla::actors;

namespace {

using boom_atom = caf::atom_constant<caf::atom("boom")>;

// A run that never ends must fail this test, not hang the suite: waits at most `limit`.
template <class F>
auto within(std::chrono::seconds limit, F&& f) {
  auto fut = std::async(std::launch::async, std::forward<F>(f));
  if (fut.wait_for(limit) != std::future_status::ready) {
    std::fprintf(stderr, "FAIL: the run did not end within %lld s after an exception (a hang)\n",
                 static_cast<long long>(limit.count()));
    std::_Exit(1);
  }
  return fut.get();
}

// Throws `E` from the coordinator's own thread the first time a round is reported.
template <class E>
struct throwing_observer : fl::run_observer {
  void on_phase(const std::string&, const std::string&) override {}
  void on_progress(std::size_t, std::size_t) override {}
  void on_round(const fl::round_record&) override { throw E("observer failed"); }
  void on_warning(const std::string&) override {}
};

struct quiet_observer : fl::run_observer {
  void on_phase(const std::string&, const std::string&) override {}
  void on_progress(std::size_t, std::size_t) override {}
  void on_round(const fl::round_record&) override {}
  void on_warning(const std::string&) override {}
};

struct throwing_alloc_observer : throwing_observer<std::runtime_error> {
  void on_round(const fl::round_record&) override { throw std::bad_alloc(); }
};

struct small_run {
  test::temp_dir dir;
  std::shared_ptr<const data::dataset> data;
  small_run() {
    test::write_mnist_like(dir.path(), 240, 60);
    data = data::load_dataset({"mnist", dir.path().string(), 0});
  }
  config::settings settings() const {
    return config::settings_from(config::resolve_config(
      "", {"clients=4", "clustering.k=2", "rounds.initial=1", "rounds.cluster=1", "runtime.trainers=1",
           "runtime.scheduler_threads=2"}));
  }
};

// The exit status the run's exception gets from the one mapping main uses.
runtime::exit_status status_of_run(const small_run& r, std::shared_ptr<fl::run_observer> obs,
                                   runtime::client_override c = {}) {
  return within(std::chrono::seconds(60), [&] {
    try {
      runtime::run_experiment(r.settings(), r.data, obs, c);
    } catch (...) {
      return runtime::exit_status_of(std::current_exception());
    }
    return runtime::exit_status{0, ""};
  });
}

} // namespace

TEST_CASE("an exception becomes an error of its class") {
  auto of = [](auto e) { return error_of_exception(std::make_exception_ptr(e), "flotilla.test"); };
  CHECK(code_of(of(model::model_error("loss is nan"))) == errc::model_error);
  CHECK(code_of(of(data::data_error("truncated"))) == errc::data_error);
  CHECK(code_of(of(std::bad_alloc())) == errc::internal_error);
  CHECK(code_of(of(std::logic_error("bug"))) == errc::internal_error);
  auto text = of(std::logic_error("bug")).context().get_as<std::string>(0);
  CHECK(text == "unhandled exception in flotilla.test: bug");
  CHECK(ends_run(of(std::bad_alloc())));
  CHECK_FALSE(ends_run(make_error(errc::injected_fault, "client 3 crashed (injected)")));
  CHECK_FALSE(ends_run(caf::exit_reason::remote_link_unreachable));
}

TEST_CASE("an actor that throws ends with that error as its exit reason") {
  caf::actor_system_config cfg;
  add_error_category(cfg);
  caf::actor_system sys{cfg};
  auto thrower = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    end_on_exception(self, "flotilla.test");
    return {[](boom_atom) { throw model::model_error("weights do not fit"); }};
  });
  caf::scoped_actor self{sys};
  self->monitor(thrower);
  self->send(thrower, boom_atom::value);
  caf::error reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(std::chrono::seconds(10)) >> [] { FAIL("no DOWN within 10 s"); });
  CHECK(code_of(reason) == errc::model_error);
  CHECK(text_of(sys, reason) == "unhandled exception in flotilla.test: weights do not fit");
}

TEST_CASE_FIXTURE(small_run, "an exception in the coordinator ends the run with its class's exit code") {
  SUBCASE("out of memory: exit 1, the message names the coordinator") {
    auto st = status_of_run(*this, std::make_shared<throwing_alloc_observer>());
    CHECK(st.code == 1);
    CHECK(st.message.find("unhandled exception in flotilla.coordinator: out of memory") != std::string::npos);
  }
  SUBCASE("a model error: exit 4") {
    auto st = status_of_run(*this, std::make_shared<throwing_observer<model::model_error>>());
    CHECK(st.code == 4);
    CHECK(st.message.find("observer failed") != std::string::npos);
  }
  SUBCASE("a data error: exit 3") {
    auto st = status_of_run(*this, std::make_shared<throwing_observer<data::data_error>>());
    CHECK(st.code == 3);
  }
}

TEST_CASE_FIXTURE(small_run, "a client that threw ends the run, a crashed one does not") {
  // Client 2 is a double that ends as a client that threw would: with an internal error.
  auto threw = [](caf::actor_system& sys, std::uint32_t id) -> caf::actor {
    if (id != 2)
      return {};
    return sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
      end_on_exception(self, "flotilla.client 2");
      self->set_default_handler([](caf::scheduled_actor*, caf::message_view&) -> caf::result<caf::message> {
        throw std::bad_alloc();
      });
      return {[](boom_atom) {}};
    });
  };
  auto st = status_of_run(*this, std::make_shared<quiet_observer>(), threw);
  // Lost like a crashed client, it would leave the run to finish with 3 clients and exit 0.
  CHECK(st.code == 1);
  CHECK(st.message.find("unhandled exception in flotilla.client 2: out of memory") != std::string::npos);
}
