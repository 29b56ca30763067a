// A model message between two local actors: round-trip latency, and proof that no float is
// copied (the receiver sees the sender's buffer).
#include <benchmark/benchmark.h>

#include "actors/protocol.hpp"

namespace {

void local_model_message(benchmark::State& state) {
  using namespace flotilla::actors;
  caf::actor_system_config cfg;
  add_protocol_types(cfg);
  cfg.set("scheduler.max-threads", std::size_t{2});
  caf::actor_system sys{cfg};
  // Answers with the address of the floats it received.
  auto peer = sys.spawn([]() -> caf::behavior {
    return {[](fit_atom, std::uint32_t, const weight_blob& w) {
      return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(w.values().data()));
    }};
  });
  weight_blob w{1, std::vector<float>(static_cast<std::size_t>(state.range(0)), 1.0f)};
  auto sent = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(w.values().data()));
  auto msg = caf::make_message(fit_atom::value, std::uint32_t{1}, w);
  std::int64_t copies = 0;
  caf::scoped_actor self{sys};
  for (auto _ : state) {
    self->request(peer, std::chrono::seconds(10), msg)
      .receive([&](std::uint64_t seen) { copies += seen != sent; }, [&](caf::error&) { ++copies; });
  }
  state.counters["copies"] = static_cast<double>(copies);
  caf::anon_send_exit(peer, caf::exit_reason::user_shutdown);
}

} // namespace

BENCHMARK(local_model_message)->Arg(80202)->Arg(1663370)->Unit(benchmark::kMicrosecond);
