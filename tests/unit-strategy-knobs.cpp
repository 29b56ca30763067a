// Each strategy owns its knobs, and a promoted server aggregates with all of them: for every
// strategy, every knob set to a value of its own (none at its default) crosses a real CAF
// serialization inside the server_role a coordinator sends, and the strategy the server makes
// from it aggregates bit for bit like the coordinator's. Each knob the strategy declares is
// shown to matter (changing it alone changes the aggregate) or to be client-side (it reaches
// every participant in the fit config instead); the knobs of other strategies do not matter.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "actors/protocol.hpp"
#include "fl/strategy.hpp"
#include "model/train_options.hpp"

using namespace flotilla;
using namespace flotilla::actors;

namespace {

// A value of each knob that no default has, in its declared range; and a second one, to show
// the knob matters.
const std::map<std::string, std::pair<double, double>> tuned{
  {"server_lr", {0.2, 0.35}},     {"server_momentum", {0.6, 0.8}}, {"proximal_mu", {0.05, 0.5}},
  {"beta1", {0.7, 0.5}},          {"beta2", {0.95, 0.5}},          {"tau", {0.01, 0.1}},
  {"trim_fraction", {0.3, 0.45}}, {"byzantine", {2, 3}},           {"multi_krum", {3, 2}},
};

fl::strategy_options tuned_options(const std::string& name) {
  auto o = fl::default_options(name);
  for (auto& [key, value] : o.knobs)
    value = tuned.at(key).first;
  return o;
}

constexpr std::size_t model_size = 3;
constexpr std::uint32_t clients = 10;

// Ten clients spread unevenly around the model (two far off), samples 1 to 10.
fl::round_updates updates(std::uint32_t round) {
  fl::round_updates u(model_size, true);
  for (std::uint32_t c = 0; c < clients; ++c) {
    std::vector<float> w(model_size);
    for (std::size_t i = 0; i < model_size; ++i)
      w[i] = static_cast<float>(std::sin(1.7 * c + 0.9 * static_cast<double>(i) + 0.3 * round) * (1 + 0.25 * c) +
                                (c >= 8 ? 6.0 * (c == 8 ? 1 : -1) : 0.0));
    REQUIRE(u.accept({c, c + 1u, 0.5, std::make_shared<const std::vector<float>>(std::move(w))}).empty());
  }
  return u;
}

// Two aggregated rounds from a fixed start (the second sees the state the first left): both
// models, one after the other.
std::vector<float> two_rounds(fl::strategy& s) {
  std::vector<float> w{0.5f, -0.25f, 1.0f};
  auto w1 = s.aggregate_fit(1, w, updates(1), {});
  auto w2 = s.aggregate_fit(2, w1, updates(2), {});
  w1.insert(w1.end(), w2.begin(), w2.end());
  return w1;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// The role a coordinator sends (coordinator_selection.cpp: role_of), with `options` and the
// state the cluster's last server left.
server_role role_with(const fl::strategy_options& options, fl::strategy_state state) {
  server_role role;
  role.cluster = 1;
  role.term = 2;
  role.strategy = options;
  role.state = std::move(state);
  role.model = weight_blob{0x5eedu, std::vector<float>{0.5f, -0.25f, 1.0f}};
  role.seed = 42;
  role.fraction_fit = 1;
  role.quorum = 0.5;
  role.timeout_s = 30;
  return role;
}

struct wire {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  wire() {
    add_protocol_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
  // Through caf::binary_serializer and back, as a promote message's payload travels.
  server_role round_trip(const server_role& role) {
    std::vector<char> buf;
    caf::binary_serializer sink{*sys, buf};
    auto copy = role;
    REQUIRE(!sink(copy));
    caf::binary_deserializer source{*sys, buf};
    server_role out;
    auto err = source(out);
    REQUIRE_MESSAGE(!err, sys->render(err));
    CHECK(source.remaining() == 0);
    return out;
  }
};

} // namespace

TEST_CASE("every knob of every strategy reaches a promoted server, which aggregates with it") {
  wire w;
  for (const auto& name : fl::strategy_names()) {
    CAPTURE(name);
    auto original = tuned_options(name);
    for (const auto& k : fl::all_knobs()) {
      CAPTURE(k.key);
      REQUIRE(original.knob(k.key) != k.default_value);
      REQUIRE(fl::knob_problem(k, original.knob(k.key)).empty());
      REQUIRE(fl::knob_problem(k, tuned.at(k.key).second).empty());
    }
    auto received = w.round_trip(role_with(original, {})).strategy;
    REQUIRE(received.name == name);
    REQUIRE(received.knobs == original.knobs);

    auto reference = two_rounds(*fl::make_strategy(original));
    CHECK(bitwise_equal(two_rounds(*fl::make_strategy(received)), reference));

    // A server elected after the first round continues from the state the role carries.
    auto first = fl::make_strategy(original);
    std::vector<float> w0{0.5f, -0.25f, 1.0f};
    auto w1 = first->aggregate_fit(1, w0, updates(1), {});
    auto role = w.round_trip(role_with(original, first->state()));
    auto second = fl::make_strategy(role.strategy);
    second->restore(role.state, model_size);
    CHECK(bitwise_equal(second->aggregate_fit(2, w1, updates(2), {}), first->aggregate_fit(2, w1, updates(2), {})));

    // Each knob the strategy declares matters, or travels to the clients.
    for (const auto& k : fl::knobs_of(name)) {
      CAPTURE(k.key);
      auto changed = original;
      changed.knobs[k.key] = tuned.at(k.key).second;
      auto changed_received = w.round_trip(role_with(changed, {})).strategy;
      if (k.client) {
        // Client-side (proximal_mu): aggregation does not read it; every participant gets it.
        CHECK(bitwise_equal(two_rounds(*fl::make_strategy(changed_received)), reference));
        auto plan = fl::make_strategy(received)->configure_fit(3, {0, 1, 2}, 1.0, 7);
        CHECK(plan.config.values.at(k.key) == original.knob(k.key));
        CHECK(fl::make_strategy(changed_received)->configure_fit(3, {0}, 1.0, 7).config.values.at(k.key) ==
              tuned.at(k.key).second);
        // ... and the client trains with it.
        CHECK(model::with_fit_values({}, plan.config.values).proximal_mu == original.knob(k.key));
      } else {
        CHECK_FALSE(bitwise_equal(two_rounds(*fl::make_strategy(changed_received)), reference));
      }
    }
    // Another strategy's knobs do not change this one's aggregate.
    for (const auto& k : fl::all_knobs()) {
      const auto& own = fl::knobs_of(name);
      if (std::any_of(own.begin(), own.end(), [&](const fl::knob_spec& o) { return o.key == k.key; }))
        continue;
      CAPTURE(k.key);
      auto other = original;
      other.knobs[k.key] = tuned.at(k.key).second;
      CHECK(bitwise_equal(two_rounds(*fl::make_strategy(w.round_trip(role_with(other, {})).strategy)), reference));
    }
  }
}

TEST_CASE("a fit config carries every client-side knob, by name, and the client knows each name") {
  wire w;
  for (const auto& name : fl::strategy_names()) {
    CAPTURE(name);
    auto plan = fl::make_strategy(tuned_options(name))->configure_fit(5, {0, 1}, 1.0, 3);
    std::map<std::string, double> expected;
    for (const auto& k : fl::knobs_of(name))
      if (k.client)
        expected[k.key] = tuned.at(k.key).first;
    CHECK(plan.config.values == expected);
    for (const auto& [key, value] : plan.config.values) {
      const auto& known = model::fit_value_names();
      CHECK_MESSAGE(std::find(known.begin(), known.end(), key) != known.end(), key);
    }
    // Through the wire inside a fit request.
    std::vector<char> buf;
    caf::binary_serializer sink{*w.sys, buf};
    fit_ins in{plan.config, weight_blob{1, {1.0f}}};
    REQUIRE(!sink(in));
    caf::binary_deserializer source{*w.sys, buf};
    fit_ins out;
    REQUIRE(!source(out));
    CHECK(out.config.round == 5);
    CHECK(out.config.values == plan.config.values);
  }
}
