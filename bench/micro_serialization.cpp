// A weight blob through CAF's binary serializer and deserializer, beside memcpy.
#include <benchmark/benchmark.h>

#include <cstring>

#include "actors/protocol.hpp"

namespace {

struct sys_holder {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  sys_holder() {
    flotilla::actors::add_protocol_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

sys_holder& holder() {
  static sys_holder h;
  return h;
}

flotilla::actors::weight_blob blob(std::size_t n) {
  return flotilla::actors::weight_blob{1, std::vector<float>(n, 0.5f)};
}

void serialize_blob(benchmark::State& state) {
  auto w = blob(static_cast<std::size_t>(state.range(0)));
  std::vector<char> buf;
  for (auto _ : state) {
    buf.clear();
    caf::binary_serializer sink{*holder().sys, buf};
    auto err = sink(w);
    benchmark::DoNotOptimize(err);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * w.size() * sizeof(float)));
}

void deserialize_blob(benchmark::State& state) {
  auto w = blob(static_cast<std::size_t>(state.range(0)));
  std::vector<char> buf;
  caf::binary_serializer sink{*holder().sys, buf};
  if (sink(w))
    state.SkipWithError("serialization failed");
  for (auto _ : state) {
    flotilla::actors::weight_blob out;
    caf::binary_deserializer source{*holder().sys, buf};
    auto err = source(out);
    benchmark::DoNotOptimize(err);
    benchmark::DoNotOptimize(out.data);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * w.size() * sizeof(float)));
}

// What the same bytes cost with a plain copy into a fresh buffer (the floor for both).
void memcpy_fresh_buffer(benchmark::State& state) {
  std::vector<float> src(static_cast<std::size_t>(state.range(0)), 0.5f);
  for (auto _ : state) {
    std::vector<char> dst(src.size() * sizeof(float));
    std::memcpy(dst.data(), src.data(), dst.size());
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * src.size() * sizeof(float)));
}

} // namespace

BENCHMARK(serialize_blob)->Arg(80202)->Arg(1663370)->Unit(benchmark::kMicrosecond);
BENCHMARK(deserialize_blob)->Arg(80202)->Arg(1663370)->Unit(benchmark::kMicrosecond);
BENCHMARK(memcpy_fresh_buffer)->Arg(80202)->Arg(1663370)->Unit(benchmark::kMicrosecond);
