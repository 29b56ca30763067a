#pragma once
#include <cstddef>

namespace flotilla::bench {

/// Median round-trip seconds of `bytes` of weights echoed between two actor systems over
/// 127.0.0.1 (the weight blob, as runs send it).
double caf_echo_seconds(std::size_t bytes, int repetitions);

/// Median round-trip seconds of the same bytes echoed over a raw loopback TCP socket.
double tcp_echo_seconds(std::size_t bytes, int repetitions);

} // namespace flotilla::bench
