// Server selection's inputs as clients compute them: a device profile replaces the host's
// standing load, the client's own share is added, and the seed rule picks the lowest sum.
#include <doctest/doctest.h>

#include "actors/client.hpp"
#include "fl/selection.hpp"

using namespace flotilla;

namespace {

std::shared_ptr<actors::node_context> context() {
  auto data = std::make_shared<data::dataset>();
  data->train.count = 100;
  data->train.height = data->train.width = 28;
  auto ctx = std::make_shared<actors::node_context>();
  ctx->data = data;
  ctx->partitions.resize(2);
  ctx->partitions[0].train.assign(40, 0);
  ctx->partitions[0].test.assign(10, 0);
  ctx->partitions[1].train.assign(40, 0);
  ctx->partitions[1].test.assign(10, 0);
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
  // The seed rule on these reports: the profiled (busy) device does not serve.
  auto server = fl::select_servers({0, 0}, 1, {{busy.cpu, busy.mem}, {plain.cpu, plain.mem}});
  CHECK(server[0] == 1);
  ctx->profiles[0] = {true, 0, 0}; // an idle device profile wins instead
  auto idle = actors::make_resource_report(0, *ctx, 2, 10, 30, 20);
  CHECK(fl::select_servers({0, 0}, 1, {{idle.cpu, idle.mem}, {plain.cpu, plain.mem}})[0] == 0);
}

TEST_CASE("a client that has not trained yet reports no own CPU share") {
  auto ctx = context();
  auto r = actors::make_resource_report(1, *ctx, 0, 0, 12.5, 33);
  CHECK(r.cpu == 12.5);
  CHECK(r.window_seconds == 0);
}
