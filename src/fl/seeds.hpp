#pragma once
// Every random stream in a run is a pure function of the run seed and where it is used, so the
// same config gives the same run on threads and on nodes, whatever the timing.
#include <cstdint>

namespace flotilla::fl {

/// SplitMix64's finalizer: a well-mixed 64-bit value from any input.
constexpr std::uint64_t splitmix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// A double in (0, 1) from a 64-bit hash's top 53 bits: never 0 or 1, so its log is finite.
constexpr double open_unit(std::uint64_t hash) {
  return (static_cast<double>(hash >> 11) + 0.5) / 9007199254740992.0;
}

/// The seed of client `client`'s shuffle in `round`: independent streams per client and round.
constexpr std::uint64_t training_seed(std::uint64_t run_seed, std::uint32_t client, std::uint32_t round) {
  return splitmix64(run_seed ^ (std::uint64_t{client} << 32 | round));
}

/// The seed of an aggregation point's participant sample in `round` (`point` 0 is the
/// coordinator, cluster c is c + 1).
constexpr std::uint64_t sampling_seed(std::uint64_t run_seed, std::uint32_t point, std::uint32_t round) {
  return splitmix64(splitmix64(run_seed ^ 0x5a3b1e0000000000ull) + (std::uint64_t{point} << 32 | round));
}

} // namespace flotilla::fl
