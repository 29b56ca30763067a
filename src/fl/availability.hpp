#pragma once
// When a device is online (clock=virtual, devices.online_s / devices.offline_s): each client
// alternates online and offline periods of exponential length (means online_s and offline_s),
// starting inside an online period. The periods are a pure function of (seed, client), so every
// process sees the same fleet come and go. An offline client cannot be sampled; one that goes
// offline before its fit would finish drops out of the round.
#include <cstdint>

namespace flotilla::fl {

struct availability_options {
  double online_s = 0;  ///< mean online period in simulated seconds (0: always online)
  double offline_s = 0; ///< mean offline period
  bool always() const { return online_s <= 0 || offline_s <= 0; }
};

/// The period of client `client` that holds simulated time `t` (>= 0): whether it is online and
/// when it ends (infinity when always online). Walks the periods from the start: stateless, so
/// any actor on any thread may ask.
struct period {
  bool online = true;
  double end = 0;
};
period period_at(const availability_options& o, std::uint64_t seed, std::uint32_t client, double t);

/// Whether the client can be sampled at `t`, and whether it stays online until `until`.
bool online_at(const availability_options& o, std::uint64_t seed, std::uint32_t client, double t);
bool online_throughout(const availability_options& o, std::uint64_t seed, std::uint32_t client, double t,
                       double until);

} // namespace flotilla::fl
