#include "net/guard_options.hpp"

#include <stdexcept>

namespace flotilla::net {

void check_guard_options(const guard_options& o) {
  auto fail = [](const std::string& m) { throw std::invalid_argument("guard: " + m); };
  bool any_tls = !o.cert.empty() || !o.key.empty() || !o.ca.empty();
  if (any_tls && (o.cert.empty() || o.key.empty() || o.ca.empty()))
    fail("TLS needs all of cert, key and ca; give all three or none");
  if (o.handshake_timeout_s <= 0 || o.message_timeout_s <= 0)
    fail("handshake_timeout_s and message_timeout_s must be positive");
  if (o.max_message_bytes == 0 || o.max_message_bytes > 0xffffffffu)
    fail("max_message_bytes must be between 1 and 4294967295 (BASP's 32-bit length)");
  if (o.max_handshake_bytes == 0 || o.max_handshake_bytes > o.max_message_bytes)
    fail("max_handshake_bytes must be between 1 and max_message_bytes");
  if (o.in_flight_budget < o.max_message_bytes)
    fail("in_flight_budget (" + std::to_string(o.in_flight_budget) + ") must be at least max_message_bytes (" +
         std::to_string(o.max_message_bytes) + "), or the largest messages could never pass");
  if (o.max_connections == 0 || o.max_pending_handshakes == 0)
    fail("max_connections and max_pending_handshakes must be positive");
  if (o.min_rate_bytes_per_s == 0)
    fail("min_rate_bytes_per_s must be positive");
}

} // namespace flotilla::net
