#include "fl/availability.hpp"

#include <cmath>
#include <limits>

#include "fl/seeds.hpp"

namespace flotilla::fl {

period period_at(const availability_options& o, std::uint64_t seed, std::uint32_t client, double t) {
  if (o.always())
    return {true, std::numeric_limits<double>::infinity()};
  auto base = splitmix64(splitmix64(seed ^ 0xa7a11ab1e0000000ull) + client);
  std::uint64_t counter = 0;
  auto draw = [&](double mean) {
    return -mean * std::log(open_unit(splitmix64(base + counter++)));
  };
  // The run starts inside an online period: what is left of it is exponential too (memoryless).
  period p{true, draw(o.online_s)};
  while (t >= p.end) {
    p.online = !p.online;
    p.end += draw(p.online ? o.online_s : o.offline_s);
  }
  return p;
}

bool online_at(const availability_options& o, std::uint64_t seed, std::uint32_t client, double t) {
  return period_at(o, seed, client, t).online;
}

bool online_throughout(const availability_options& o, std::uint64_t seed, std::uint32_t client, double t,
                       double until) {
  auto p = period_at(o, seed, client, t);
  return p.online && until < p.end;
}

} // namespace flotilla::fl
