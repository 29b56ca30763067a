#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "net/basp_payload.hpp"
#include "net/message_types.hpp"

namespace flotilla::net {

// CAF 0.17.6 BASP framing (libcaf_io/caf/io/basp/header.hpp, message_type.hpp): every message
// is a 32-byte header, then payload_len bytes. CAF's binary_serializer writes integers in
// network byte order: operation u8, 2 padding bytes, flags u8, payload_len u32,
// operation_data u64, source_actor u64, dest_actor u64.

/// Size of a serialized BASP header.
constexpr std::size_t basp_header_size = 32;

/// The operations CAF 0.17.6 knows; any other value is not BASP.
enum class basp_operation : std::uint8_t {
  server_handshake = 0x00,
  client_handshake = 0x01,
  direct_message = 0x02,
  routed_message = 0x03,
  monitor_message = 0x04,
  down_message = 0x05,
  heartbeat = 0x06,
};

/// A decoded BASP header.
struct basp_header {
  std::uint8_t operation = 0; ///< raw byte: may hold a value that is no basp_operation
  std::uint8_t flags = 0;
  std::uint32_t payload_len = 0;
  std::uint64_t operation_data = 0;
  std::uint64_t source_actor = 0;
  std::uint64_t dest_actor = 0;
};

/// Decodes the 32 bytes at `bytes` (network byte order); does not judge them.
basp_header parse_basp_header(const std::uint8_t* bytes);

/// Encodes `h` into the 32 bytes at `out` the way CAF does (tests and tools build frames with it).
void write_basp_header(const basp_header& h, std::uint8_t* out);

/// Limits on what a peer may send to a node.
struct frame_limits {
  std::size_t max_message_bytes = 64u << 20;  ///< largest payload of any message
  std::size_t max_handshake_bytes = 64u << 10; ///< largest payload of the first message
};

/// What the guard thinks of one header arriving from a peer that connected to the node.
enum class frame_verdict {
  accept,
  unknown_operation,    ///< not a BASP 0.17.6 operation byte
  invalid_fields,       ///< fields CAF's basp::valid() would refuse
  server_handshake,     ///< only the node's side sends these; a connecting peer never does
  handshake_expected,   ///< the first message of a connection must be a client handshake
  handshake_too_large,  ///< first message larger than max_handshake_bytes
  too_large,            ///< payload larger than max_message_bytes
  payload_refused,      ///< the payload's leading structure broke a rule (basp_payload.hpp)
};

/// A sentence naming what was wrong with the header (for logs and close reasons).
const char* to_string(frame_verdict v);

/// Judges a header that a connecting peer sent; `first` is true for the connection's first
/// message. Mirrors CAF's basp::valid() field rules, so a header accepted here is one CAF
/// would also accept, and adds the size and ordering limits CAF 0.17 lacks.
frame_verdict check_inbound_header(const basp_header& h, bool first, const frame_limits& limits);

/// Walks the byte stream a peer sends to the node, frame by frame, and says how many of the
/// offered bytes may be passed on. A header is passed on only once it is complete, judged
/// acceptable and, when it announces a payload, granted budget (CAF reserves payload_len
/// bytes as soon as it reads a header). With an allowlist, a payload's first bytes are held
/// back until check_payload accepts its leading structure (at most payload_limits::window
/// bytes; CAF deserializes nothing before it has the whole payload), then the rest streams
/// through unread. Pure: no I/O, no clock.
class basp_inbound_filter {
public:
  enum class state {
    at_header,    ///< between messages (or inside an incomplete header)
    in_payload,   ///< passing on the payload of an accepted header
    needs_budget, ///< a complete header waits for grant(pending_payload())
    granted,      ///< budget granted; the next offer passes the header and its payload
    refused,      ///< the peer broke the rules; close the connection
  };

  /// `types`: the element types payloads may hold (it must outlive the filter); nullptr checks
  /// frames only (tests of the framing alone).
  explicit basp_inbound_filter(frame_limits limits, const message_allowlist* types = nullptr,
                               payload_limits payload = {});

  /// Offers the unconsumed bytes [data, data + n), starting where the last offer stopped
  /// consuming; returns how many of them may be forwarded now (those are consumed). Bytes of
  /// an incomplete or waiting header are not consumed: offer them again with what follows.
  std::size_t offer(const std::uint8_t* data, std::size_t n);

  /// Lets the waiting header through; call after reserving pending_payload() bytes.
  void grant();

  state current() const { return state_; }
  /// Payload size of the header that waits for budget (state needs_budget or granted).
  std::size_t pending_payload() const { return pending_.payload_len; }
  /// Payload bytes of the current message still to pass (state in_payload).
  std::size_t payload_remaining() const { return remaining_; }
  /// Why the stream was refused (state refused).
  frame_verdict verdict() const { return verdict_; }
  /// For payload_refused: what the payload held (names the type; never payload bytes).
  const std::string& refusal() const { return refusal_; }
  /// True while the current payload's first bytes wait for the payload check.
  bool checking_payload() const { return checking_; }
  /// True once the first message, a client handshake, has passed entirely.
  bool handshake_done() const { return handshake_done_; }
  /// Messages passed entirely.
  std::uint64_t messages() const { return messages_; }

private:
  void finish_message();

  frame_limits limits_;
  const message_allowlist* types_;
  payload_limits payload_limits_;
  bool checking_ = false;  ///< the current payload waits for check_payload
  std::size_t need_ = 0;   ///< payload bytes to have before checking again
  std::string refusal_;
  state state_ = state::at_header;
  basp_header pending_;
  std::size_t remaining_ = 0;
  frame_verdict verdict_ = frame_verdict::accept;
  bool handshake_done_ = false;
  bool in_handshake_ = false;
  std::uint64_t messages_ = 0;
};

} // namespace flotilla::net
