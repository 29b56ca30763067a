// Two actor systems in one process, talking over 127.0.0.1: every protocol type crosses real
// BASP serialization, so a missing registration or a broken inspector fails here.
#include <doctest/doctest.h>

#include <caf/io/all.hpp>

#include "actors/errors.hpp"
#include "actors/protocol.hpp"
#include "runtime/actor_system_setup.hpp"

using namespace flotilla;
using namespace flotilla::actors;

namespace {

struct two_nodes {
  config::runtime_options rt;
  caf::actor_system_config cfg_a, cfg_b;
  std::unique_ptr<caf::actor_system> a, b;
  caf::actor remote_echo; // lives on b, seen from a

  two_nodes() {
    rt.heartbeat_s = 0;
    runtime::configure_actor_system(cfg_a, rt);
    runtime::configure_actor_system(cfg_b, rt);
    a = std::make_unique<caf::actor_system>(cfg_a);
    b = std::make_unique<caf::actor_system>(cfg_b);
    // Sends every message back as it came: the round trip serializes it twice.
    auto echo = b->spawn([](caf::event_based_actor* self) -> caf::behavior {
      self->set_default_handler(caf::reflect);
      return {[](int) {}};
    });
    auto port = b->middleman().publish(echo, 0, "127.0.0.1");
    REQUIRE(port);
    auto hdl = a->middleman().remote_actor("127.0.0.1", *port);
    REQUIRE(hdl);
    remote_echo = *hdl;
  }
  ~two_nodes() {
    caf::anon_send_exit(remote_echo, caf::exit_reason::user_shutdown);
  }

  template <class... Ts>
  caf::message round_trip(Ts... xs) {
    caf::scoped_actor self{*a};
    caf::message out;
    self->request(remote_echo, std::chrono::seconds(10), xs...)
      .receive([&](Ts&... ys) { out = caf::make_message(std::move(ys)...); },
               [&](caf::error& e) { FAIL(a->render(e)); });
    return out;
  }
};

weight_blob blob(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(i) * 0.5f - 3.0f;
  return weight_blob{0xfeedu, std::move(v)};
}

} // namespace

TEST_CASE_FIXTURE(two_nodes, "weights and results cross the wire intact") {
  auto big = blob(80202);
  fl::fit_config cfg{3, 2, 0.01, 0.5};
  auto m = round_trip(fit_atom::value, fit_ins{cfg, big});
  REQUIRE(m.match_elements<fit_atom, fit_ins>());
  const auto& in = m.get_as<fit_ins>(1);
  CHECK(in.config.round == 3);
  CHECK(in.config.values == cfg.values);
  CHECK(in.config.value("epochs", 0) == 2);
  CHECK(in.config.value("proximal_mu", 0) == 0.5);
  CHECK(in.weights.layout == 0xfeedu);
  CHECK(in.weights.values() == big.values());

  fit_result fr{7, 2, 600, 0.25, 1.5, 1.25, blob(10)};
  auto f = round_trip(fr).get_as<fit_result>(0);
  CHECK(f.client_id == 7);
  CHECK(f.samples == 600);
  CHECK(f.cpu_seconds == 1.25);
  CHECK(f.weights.values() == fr.weights.values());

  auto e = round_trip(eval_result{4, 120, 0.3, 0.95}).get_as<eval_result>(0);
  CHECK(e.client_id == 4);
  CHECK(e.accuracy == 0.95);

  resource_report rr;
  rr.client_id = 9;
  rr.own_bytes = 123456789;
  rr.profiled = true;
  rr.cpu = 42.5;
  auto r = round_trip(rr).get_as<resource_report>(0);
  CHECK(r.client_id == 9);
  CHECK(r.own_bytes == 123456789);
  CHECK(r.profiled);
  CHECK(r.cpu == 42.5);
}

TEST_CASE_FIXTURE(two_nodes, "server roles, cluster rounds and results carry state and handles across nodes") {
  server_role role;
  role.cluster = 2;
  role.term = 3;
  // Every knob of every strategy, each at a value of its own: the subtree travels whole.
  role.strategy = fl::default_options("fedadam");
  double x = 0.125;
  for (auto& [key, value] : role.strategy.knobs)
    value = fl::find_knob(key)->integer ? (x += 1.0) : (x += 0.0009765625);
  REQUIRE(role.strategy.knobs.size() == fl::all_knobs().size());
  role.state = fl::strategy_state{"fedadam", 4, {{1, 2, 3}, {4, 5, 6}}};
  role.model = blob(5);
  role.fraction_fit = 0.5;
  auto s = round_trip(promote_atom::value, role).get_as<server_role>(1);
  CHECK(s.cluster == 2);
  CHECK(s.term == 3);
  CHECK(s.strategy.name == "fedadam");
  CHECK(s.strategy.knobs == role.strategy.knobs);
  for (const auto& k : fl::all_knobs())
    CHECK_MESSAGE(s.strategy.knob(k.key) == role.strategy.knob(k.key), k.key);
  CHECK(s.state.steps == 4);
  CHECK(s.state.buffers == role.state.buffers);
  CHECK(s.model.values() == role.model.values());
  CHECK(s.fraction_fit == 0.5);

  cluster_round_ins ins{2, {{1, remote_echo}, {5, remote_echo}}};
  auto i = round_trip(cluster_round_atom::value, ins).get_as<cluster_round_ins>(1);
  REQUIRE(i.members.size() == 2);
  CHECK(i.members[1].id == 5);
  CHECK(i.members[0].handle == remote_echo);

  round_result rr;
  rr.record.phase = "cluster";
  rr.record.cluster = 1;
  rr.record.server = 5;
  rr.record.failed = {3};
  rr.record.failure_reasons = {"timeout"};
  rr.aggregator = remote_echo.address();
  rr.model = blob(7);
  rr.state = fl::strategy_state{"fedavgm", 1, {{0.5f}}};
  auto c = round_trip(rr).get_as<round_result>(0);
  CHECK(c.record.server == 5);
  CHECK(c.record.phase == "cluster");
  CHECK(c.aggregator == remote_echo.address());
  CHECK(c.record.failure_reasons == rr.record.failure_reasons);
  CHECK(c.model.values() == rr.model.values());
  CHECK(c.state.buffers == rr.state.buffers);

  auto hs = round_trip(std::vector<caf::actor>{remote_echo}).get_as<std::vector<caf::actor>>(0);
  CHECK(hs.size() == 1);
  auto setup = round_trip(setup_atom::value, std::string("{}"), std::vector<std::uint32_t>{0, 2}, std::string("fp"));
  CHECK(setup.get_as<std::vector<std::uint32_t>>(2) == std::vector<std::uint32_t>{0, 2});
}

TEST_CASE_FIXTURE(two_nodes, "our errors keep their code and text across nodes") {
  auto got = round_trip(std::string("error"), make_error(errc::model_error, "loss is nan")).get_as<caf::error>(1);
  CHECK(code_of(got) == errc::model_error);
  CHECK(text_of(*a, got) == "loss is nan");
}

TEST_CASE("a blob longer than the limit is refused by the deserializer") {
  caf::actor_system_config cfg;
  add_protocol_types(cfg);
  caf::actor_system sys{cfg};
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  std::uint64_t layout = 1;
  std::uint8_t inline_floats = 0;
  REQUIRE(!sink(layout, inline_floats));
  auto huge = max_blob_floats + 1;
  REQUIRE(!sink.begin_sequence(huge));
  caf::binary_deserializer source{sys, buf};
  weight_blob w;
  auto err = source(w);
  CHECK(err);
  CHECK(w.size() == 0);
}

TEST_CASE("strategy knobs and fit values are bounded when read: entries, name length, each name once") {
  caf::actor_system_config cfg;
  add_protocol_types(cfg);
  caf::actor_system sys{cfg};
  // The bytes of strategy options named "krum" with `entries`, written by hand.
  auto bytes = [&](const std::vector<std::pair<std::string, double>>& entries) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    std::string name = "krum";
    REQUIRE(!sink(name));
    auto n = entries.size();
    REQUIRE(!sink.begin_sequence(n));
    for (auto [k, v] : entries)
      REQUIRE(!sink(k, v));
    REQUIRE(!sink.end_sequence());
    return buf;
  };
  auto read = [&](const std::vector<char>& buf, fl::strategy_options& out) {
    caf::binary_deserializer source{sys, buf};
    return source(out);
  };
  std::vector<std::pair<std::string, double>> many;
  for (int i = 0; i < 64; ++i)
    many.emplace_back("k" + std::to_string(i), i);
  fl::strategy_options o;
  CHECK_FALSE(read(bytes(many), o));
  CHECK(o.knobs.size() == 64);
  CHECK(o.knob("k63") == 63);
  many.emplace_back("k64", 64);
  CHECK(read(bytes(many), o));
  CHECK(read(bytes({{std::string(65, 'a'), 1}}), o));
  CHECK_FALSE(read(bytes({{std::string(64, 'a'), 1}}), o));
  CHECK(read(bytes({{"", 1}}), o));
  CHECK(read(bytes({{"byzantine", 1}, {"byzantine", 2}}), o));
  // A claimed count beyond the bytes present is refused before anything is read.
  auto cut = bytes({{"byzantine", 1}, {"multi_krum", 2}});
  cut.resize(cut.size() - 3);
  CHECK(read(cut, o));

  // What is written is what is read, for both kinds.
  auto options = fl::default_options("fedyogi");
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  fl::fit_config fit{4, {{"proximal_mu", 0.5}, {"lr", 0.02}}};
  REQUIRE(!sink(options, fit));
  caf::binary_deserializer source{sys, buf};
  fl::strategy_options back;
  fl::fit_config fit_back;
  REQUIRE(!source(back, fit_back));
  CHECK(back.name == "fedyogi");
  CHECK(back.knobs == options.knobs);
  CHECK(fit_back.round == 4);
  CHECK(fit_back.values == fit.values);
}
