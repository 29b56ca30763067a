#pragma once
// The leading structure of a BASP payload, checked before the payload's last byte reaches CAF
// (CAF deserializes a payload only once it has all of it, so holding back the first bytes
// until the check decides is enough; the rest streams through unread).
//
// What CAF 0.17.6 writes (binary_serializer: integers big-endian at their width; a sequence
// or string length as a little-endian base-128 varint, serializer_impl.hpp begin_sequence):
//
//   node_id      u64 implementation atom; atom("default"): u32 process id, 20 host-id bytes;
//                atom(""): nothing (no node); atom("uri"): a URI (refused: 0.17.6 BASP never
//                makes one) — node_id.cpp node_id::serialize
//   actor        u64 actor id, node_id (strong_actor_ptr, actor and actor_addr alike) —
//                actor_control_block.hpp inspect(strong_actor_ptr)
//   message      u16 type number, always 0 for a message; string type name "@<>" (empty) or
//                "@<>+T1+T2..." with each element's portable name; then each element's bytes
//                — message.cpp message::save / message::load
//   error        u8 code, u64 category atom, message context — error.cpp error::apply
//
//   client_handshake  node_id                               instance.cpp write_client_handshake
//   direct_message    varint n, n x actor (forwarding stack), message
//                                                          instance.cpp dispatch, remote_message_handler.hpp
//   routed_message    node_id source, node_id dest, then as direct_message
//   monitor_message   node_id source, node_id dest          instance.cpp write_monitor_message
//   down_message      node_id source, node_id dest, error   instance.cpp write_down_message
#include <cstddef>
#include <cstdint>
#include <string>

#include "net/message_types.hpp"

namespace flotilla::net {

/// Bounds of the payload check.
struct payload_limits {
  std::size_t window = 4096;              ///< leading bytes the check may read; needing more: refused
  std::size_t max_type_name = 512;        ///< longest type-name string of a message
  std::size_t max_elements = 32;          ///< most elements of a message
  std::size_t max_stages = 16;            ///< most forwarding-stack entries
  std::size_t max_error_bytes = 64u << 10; ///< largest payload of a message that is an error, or of a down message
};

/// What the check decided.
struct payload_verdict {
  enum result_t { accept, refuse, need_more } result = accept;
  std::size_t need = 0; ///< need_more: payload bytes to have before checking again
  std::string why;      ///< refuse: what was wrong, naming the offending type
};

/// Checks the payload of a message with BASP operation `operation`, of which `data` holds the
/// first `available` of `payload_len` bytes. Decides as soon as the bytes suffice; asks for
/// more (never more than limits.window, never more than payload_len) otherwise. Pure.
payload_verdict check_payload(std::uint8_t operation, const std::uint8_t* data, std::size_t available,
                              std::size_t payload_len, const message_allowlist& types,
                              const payload_limits& limits = {});

} // namespace flotilla::net
