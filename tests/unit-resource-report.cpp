// Server selection's inputs as clients compute them: a device profile replaces the host's
// standing load, the client's own share is added, and the seed rule picks the lowest sum.
#include <doctest/doctest.h>

#include "actors/client.hpp"
#include "actors/errors.hpp"
#include "actor_fixtures.hpp"
#include "fl/cluster_registry.hpp"

using namespace flotilla;

namespace {

std::shared_ptr<actors::node_context> context() {
  auto data = std::make_shared<data::dataset>();
  data->train.count = 100;
  data->train.height = data->train.width = 28;
  auto ctx = std::make_shared<actors::node_context>();
  ctx->data = data;
  std::vector<data::client_partition> parts(2);
  for (auto& p : parts) {
    p.train.assign(40, 0);
    p.test.assign(10, 0);
  }
  ctx->partition_list = std::make_shared<const std::vector<data::client_partition>>(std::move(parts));
  ctx->model.parameters = 1000;
  ctx->cores = 2;
  ctx->profiles.resize(2);
  return ctx;
}

} // namespace

TEST_CASE("a device profile replaces the host's load and the client's own share is added") {
  auto ctx = context();
  ctx->profiles[0] = {true, 80, 40};
  auto total = static_cast<double>(ctx->host->memory_total_bytes());
  // 50 samples of 784 floats + a label each, model + gradients + momentum.
  std::uint64_t bytes = 50 * (784 * 4 + 8) + 3 * 1000 * 4;
  auto busy = actors::make_resource_report(0, *ctx, /*own_cpu_seconds=*/2, /*window_seconds=*/10, 30, 20);
  CHECK(busy.profiled);
  CHECK(busy.own_bytes == bytes);
  CHECK(busy.cpu == doctest::Approx(80 + 100.0 * 2 / (10 * 2))); // 80 + 10
  CHECK(busy.mem == doctest::Approx(40 + 100.0 * static_cast<double>(bytes) / total));
  auto plain = actors::make_resource_report(1, *ctx, 2, 10, 30, 20);
  CHECK_FALSE(plain.profiled);
  CHECK(plain.cpu == doctest::Approx(30 + 10));
  CHECK(plain.mem == doctest::Approx(20 + 100.0 * static_cast<double>(bytes) / total));
  // The rule the coordinator applies to these reports (the registry's): the profiled (busy)
  // device does not serve; with an idle profile it does.
  auto server_of = [](const actors::resource_report& a, const actors::resource_report& b) {
    fl::cluster_registry r;
    r.create({0, 0}, 1, std::make_shared<const std::vector<float>>(1, 0.0f));
    r.set_score(0, fl::server_score(a.cpu, a.mem));
    r.set_score(1, fl::server_score(b.cpu, b.mem));
    r.select_servers();
    return *r.server_of(0);
  };
  CHECK(server_of(busy, plain) == 1);
  ctx->profiles[0] = {true, 0, 0};
  auto idle = actors::make_resource_report(0, *ctx, 2, 10, 30, 20);
  CHECK(server_of(idle, plain) == 0);
}

TEST_CASE("a client that has not trained yet reports no own CPU share") {
  auto ctx = context();
  auto r = actors::make_resource_report(1, *ctx, 0, 0, 12.5, 33);
  CHECK(r.cpu == 12.5);
  CHECK(r.window_seconds == 0);
}

TEST_CASE("a client answers the requests of its typed handle; a cluster round only while it serves") {
  test::protocol_config cfg;
  caf::actor_system sys{cfg};
  {
    caf::scoped_actor self{sys};
    auto client = caf::actor_cast<actors::client_handle>(
      sys.spawn(actors::client, 0u, std::shared_ptr<const actors::node_context>(context()), actors::trainer_pool_handle{}));
    auto wait = std::chrono::seconds(10);
    bool pinged = false;
    self->request(client, wait, actors::ping_atom::value).receive([&](actors::ping_atom) { pinged = true; }, [](caf::error&) {});
    CHECK(pinged);
    std::uint32_t reported = 99;
    self->request(client, wait, actors::resources_atom::value)
      .receive([&](actors::resource_report& r) { reported = r.client_id; }, [](caf::error&) {});
    CHECK(reported == 0);
    // Not promoted: a cluster round is refused with our error, not dropped as unexpected.
    std::string refused;
    self->request(client, wait, actors::cluster_round_atom::value, actors::cluster_round_ins{1, {}})
      .receive([](actors::round_result&) {}, [&](caf::error& e) { refused = actors::text_of(sys, e); });
    CHECK(refused.find("does not serve a cluster") != std::string::npos);
    self->send(client, actors::demote_atom::value); // harmless when not serving
    pinged = false;
    self->request(client, wait, actors::ping_atom::value).receive([&](actors::ping_atom) { pinged = true; }, [](caf::error&) {});
    CHECK(pinged);
    self->send_exit(client, caf::exit_reason::user_shutdown);
  }
}
