#include "net/basp_frame.hpp"

namespace flotilla::net {

namespace {

std::uint64_t read_be(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v = (v << 8) | p[i];
  return v;
}

void write_be(std::uint64_t v, std::uint8_t* p, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8)
    p[i] = static_cast<std::uint8_t>(v & 0xff);
}

} // namespace

basp_header parse_basp_header(const std::uint8_t* b) {
  basp_header h;
  h.operation = b[0];
  h.flags = b[3];
  h.payload_len = static_cast<std::uint32_t>(read_be(b + 4, 4));
  h.operation_data = read_be(b + 8, 8);
  h.source_actor = read_be(b + 16, 8);
  h.dest_actor = read_be(b + 24, 8);
  return h;
}

void write_basp_header(const basp_header& h, std::uint8_t* out) {
  out[0] = h.operation;
  out[1] = 0;
  out[2] = 0;
  out[3] = h.flags;
  write_be(h.payload_len, out + 4, 4);
  write_be(h.operation_data, out + 8, 8);
  write_be(h.source_actor, out + 16, 8);
  write_be(h.dest_actor, out + 24, 8);
}

const char* to_string(frame_verdict v) {
  switch (v) {
    case frame_verdict::accept:
      return "accepted";
    case frame_verdict::unknown_operation:
      return "not a BASP message (unknown operation byte)";
    case frame_verdict::invalid_fields:
      return "BASP header with fields CAF refuses";
    case frame_verdict::server_handshake:
      return "a connecting peer sent a server handshake";
    case frame_verdict::handshake_expected:
      return "the first message was not a client handshake";
    case frame_verdict::handshake_too_large:
      return "client handshake larger than the handshake limit";
    case frame_verdict::too_large:
      return "message larger than max_message_bytes";
    case frame_verdict::payload_refused:
      return "message payload refused";
  }
  return "unknown verdict";
}

frame_verdict check_inbound_header(const basp_header& h, bool first, const frame_limits& limits) {
  // Field rules copied from CAF 0.17.6 basp/header.cpp valid(): a header failing them makes
  // CAF close the connection anyway, so refusing them here only saves the round through CAF.
  bool fields_ok = false;
  switch (static_cast<basp_operation>(h.operation)) {
    case basp_operation::server_handshake:
      return frame_verdict::server_handshake;
    case basp_operation::client_handshake:
      // CAF's valid() allows an empty client handshake, but its handler then deserializes a
      // null payload; demand the node_id the handshake carries.
      fields_ok = h.source_actor == 0 && h.dest_actor == 0 && h.payload_len != 0;
      break;
    case basp_operation::direct_message:
    case basp_operation::routed_message:
      fields_ok = h.dest_actor != 0 && h.payload_len != 0;
      break;
    case basp_operation::monitor_message:
      fields_ok = h.payload_len != 0 && h.operation_data == 0;
      break;
    case basp_operation::down_message:
      fields_ok = h.source_actor != 0 && h.dest_actor == 0 && h.payload_len != 0 && h.operation_data == 0;
      break;
    case basp_operation::heartbeat:
      fields_ok = h.source_actor == 0 && h.dest_actor == 0 && h.payload_len == 0 && h.operation_data == 0;
      break;
    default:
      return frame_verdict::unknown_operation;
  }
  if (first && static_cast<basp_operation>(h.operation) != basp_operation::client_handshake)
    return frame_verdict::handshake_expected;
  if (!fields_ok)
    return frame_verdict::invalid_fields;
  if (first && h.payload_len > limits.max_handshake_bytes)
    return frame_verdict::handshake_too_large;
  if (h.payload_len > limits.max_message_bytes)
    return frame_verdict::too_large;
  return frame_verdict::accept;
}

basp_inbound_filter::basp_inbound_filter(frame_limits limits, const message_allowlist* types, payload_limits payload)
    : limits_(limits), types_(types), payload_limits_(payload) {}

void basp_inbound_filter::finish_message() {
  ++messages_;
  if (in_handshake_) {
    in_handshake_ = false;
    handshake_done_ = true;
  }
  state_ = state::at_header;
}

std::size_t basp_inbound_filter::offer(const std::uint8_t* data, std::size_t n) {
  std::size_t used = 0;
  while (used < n) {
    switch (state_) {
      case state::in_payload: {
        if (checking_) {
          // Nothing of this payload has passed yet (remaining_ is its length): hold its first
          // bytes until the check decides, so CAF never has a whole unchecked payload.
          auto avail = remaining_ < n - used ? remaining_ : n - used;
          if (avail < (need_ < remaining_ ? need_ : remaining_))
            return used;
          auto v = check_payload(pending_.operation, data + used, avail, remaining_, *types_, payload_limits_);
          if (v.result == payload_verdict::refuse) {
            verdict_ = frame_verdict::payload_refused;
            refusal_ = std::move(v.why);
            state_ = state::refused;
            return used;
          }
          if (v.result == payload_verdict::need_more) {
            need_ = v.need; // > avail, <= window and <= remaining_ (check_payload refuses otherwise)
            return used;
          }
          checking_ = false;
        }
        auto k = remaining_ < n - used ? remaining_ : n - used;
        used += k;
        remaining_ -= k;
        if (remaining_ == 0)
          finish_message();
        continue;
      }
      case state::granted:
        // The granted header is still at the front of the unconsumed bytes.
        if (n - used < basp_header_size)
          return used;
        used += basp_header_size;
        remaining_ = pending_.payload_len;
        state_ = state::in_payload;
        checking_ = types_ != nullptr && remaining_ > 0;
        need_ = 1;
        continue;
      case state::at_header:
        break;
      default:
        return used; // refused, or waiting for budget
    }
    if (n - used < basp_header_size) {
      // The operation byte alone can already rule a peer out (text, TLS to a plain port).
      auto op = data[used];
      bool known = op <= static_cast<std::uint8_t>(basp_operation::heartbeat);
      if (!known || (!handshake_done_ && op != static_cast<std::uint8_t>(basp_operation::client_handshake))) {
        verdict_ = known ? frame_verdict::handshake_expected : frame_verdict::unknown_operation;
        state_ = state::refused;
      }
      return used; // incomplete header: offer it again with what follows
    }
    auto h = parse_basp_header(data + used);
    bool first = !handshake_done_;
    verdict_ = check_inbound_header(h, first, limits_);
    if (verdict_ != frame_verdict::accept) {
      state_ = state::refused;
      return used;
    }
    in_handshake_ = first;
    if (h.payload_len > 0) {
      pending_ = h;
      state_ = state::needs_budget;
      return used;
    }
    used += basp_header_size;
    finish_message();
  }
  return used;
}

void basp_inbound_filter::grant() {
  if (state_ == state::needs_budget)
    state_ = state::granted;
}

} // namespace flotilla::net
