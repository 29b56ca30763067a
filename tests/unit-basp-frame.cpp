// The BASP frame checks the guard applies before CAF sees a byte: decoding matches CAF's own
// serializer, valid traffic passes in any split, and oversized, unknown or out-of-order
// messages are refused.
#include <doctest/doctest.h>

#include <caf/binary_serializer.hpp>
#include <caf/io/basp/header.hpp>

#include <random>
#include <vector>

#include "net/basp_frame.hpp"

using namespace flotilla::net;

namespace {

std::vector<std::uint8_t> frame(basp_operation op, std::uint32_t payload_len, std::uint64_t dest = 0,
                                std::uint64_t source = 0, std::uint64_t data = 0, std::uint8_t fill = 0xab) {
  basp_header h;
  h.operation = static_cast<std::uint8_t>(op);
  h.payload_len = payload_len;
  h.dest_actor = dest;
  h.source_actor = source;
  h.operation_data = data;
  std::vector<std::uint8_t> out(basp_header_size + (payload_len < (1u << 20) ? payload_len : 0), fill);
  write_basp_header(h, out.data());
  return out;
}

void append(std::vector<std::uint8_t>& to, const std::vector<std::uint8_t>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

frame_limits small_limits() {
  return frame_limits{/*max_message_bytes=*/4096, /*max_handshake_bytes=*/256};
}

// Feeds `bytes` to the filter in pieces of `piece` bytes the way the relay does (unconsumed
// bytes are offered again), granting budget whenever asked; returns the bytes passed.
std::size_t feed(basp_inbound_filter& f, const std::vector<std::uint8_t>& bytes, std::size_t piece) {
  std::size_t passed = 0, available = 0;
  for (;;) {
    passed += f.offer(bytes.data() + passed, available - passed);
    if (f.current() == basp_inbound_filter::state::needs_budget) {
      f.grant();
      continue;
    }
    if (f.current() == basp_inbound_filter::state::refused || available == bytes.size())
      return passed;
    available = std::min(bytes.size(), available + piece);
  }
}

} // namespace

TEST_CASE("the header decodes exactly what CAF 0.17.6 serializes") {
  caf::io::basp::header h{caf::io::basp::message_type::direct_message, 0x02, 0x01020304u, 0x1112131415161718ull,
                          0x2122232425262728ull, 0x3132333435363738ull};
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  REQUIRE(!sink(h));
  REQUIRE(buf.size() == basp_header_size);
  REQUIRE(caf::io::basp::header_size == basp_header_size);
  auto p = parse_basp_header(reinterpret_cast<const std::uint8_t*>(buf.data()));
  CHECK(p.operation == 0x02);
  CHECK(p.flags == 0x02);
  CHECK(p.payload_len == 0x01020304u);
  CHECK(p.operation_data == 0x1112131415161718ull);
  CHECK(p.source_actor == 0x2122232425262728ull);
  CHECK(p.dest_actor == 0x3132333435363738ull);
  std::uint8_t ours[basp_header_size];
  write_basp_header(p, ours);
  CHECK(std::equal(ours, ours + basp_header_size, reinterpret_cast<const std::uint8_t*>(buf.data())));
}

TEST_CASE("a header the guard accepts is one CAF's valid() accepts, for random headers") {
  std::mt19937_64 rng(7);
  frame_limits huge{0xffffffffu, 0xffffffffu};
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    // Mostly zero fields, so every rule's both sides are exercised.
    auto pick = [&](std::uint64_t max) -> std::uint64_t { return rng() % 3 == 0 ? rng() % max : 0; };
    basp_header h;
    h.operation = static_cast<std::uint8_t>(rng() % 9);
    h.payload_len = static_cast<std::uint32_t>(pick(0xffffffffu));
    h.operation_data = pick(~0ull);
    h.source_actor = pick(~0ull);
    h.dest_actor = pick(~0ull);
    caf::io::basp::header c{static_cast<caf::io::basp::message_type>(h.operation), 0, h.payload_len, h.operation_data,
                            h.source_actor, h.dest_actor};
    bool ours = check_inbound_header(h, /*first=*/false, huge) == frame_verdict::accept;
    if (ours) {
      ++accepted;
      CHECK(caf::io::basp::valid(c));
    }
    // Where the guard is stricter than CAF, it is on purpose and for these cases only.
    if (caf::io::basp::valid(c) && !ours) {
      bool server_hs = h.operation == 0x00;
      bool empty_client_hs = h.operation == 0x01 && h.payload_len == 0;
      CHECK((server_hs || empty_client_hs));
    }
  }
  CHECK(accepted > 1000);
}

TEST_CASE("header verdicts name what is wrong") {
  auto limits = small_limits();
  auto hdr = [](basp_operation op, std::uint32_t len, std::uint64_t dest = 0) {
    basp_header h;
    h.operation = static_cast<std::uint8_t>(op);
    h.payload_len = len;
    h.dest_actor = dest;
    return h;
  };
  SUBCASE("first message") {
    CHECK(check_inbound_header(hdr(basp_operation::client_handshake, 40), true, limits) == frame_verdict::accept);
    CHECK(check_inbound_header(hdr(basp_operation::client_handshake, 257), true, limits) ==
          frame_verdict::handshake_too_large);
    CHECK(check_inbound_header(hdr(basp_operation::client_handshake, 0xfffffff0u), true, limits) ==
          frame_verdict::handshake_too_large);
    CHECK(check_inbound_header(hdr(basp_operation::client_handshake, 0), true, limits) == frame_verdict::invalid_fields);
    CHECK(check_inbound_header(hdr(basp_operation::heartbeat, 0), true, limits) == frame_verdict::handshake_expected);
    CHECK(check_inbound_header(hdr(basp_operation::direct_message, 0xfffffff0u, 1), true, limits) ==
          frame_verdict::handshake_expected);
  }
  SUBCASE("later messages") {
    CHECK(check_inbound_header(hdr(basp_operation::direct_message, 4096, 1), false, limits) == frame_verdict::accept);
    CHECK(check_inbound_header(hdr(basp_operation::direct_message, 4097, 1), false, limits) == frame_verdict::too_large);
    CHECK(check_inbound_header(hdr(basp_operation::direct_message, 0xfffffff0u, 1), false, limits) ==
          frame_verdict::too_large);
    CHECK(check_inbound_header(hdr(basp_operation::direct_message, 10, 0), false, limits) ==
          frame_verdict::invalid_fields);
    CHECK(check_inbound_header(hdr(basp_operation::heartbeat, 0), false, limits) == frame_verdict::accept);
    CHECK(check_inbound_header(hdr(basp_operation::server_handshake, 10), false, limits) ==
          frame_verdict::server_handshake);
  }
  SUBCASE("unknown operations") {
    for (int op : {0x07, 0x47, 0xff}) {
      basp_header h;
      h.operation = static_cast<std::uint8_t>(op);
      CHECK(check_inbound_header(h, false, limits) == frame_verdict::unknown_operation);
      CHECK(check_inbound_header(h, true, limits) == frame_verdict::unknown_operation);
    }
  }
  CHECK(std::string(to_string(frame_verdict::too_large)) == "message larger than max_message_bytes");
}

TEST_CASE("a valid stream passes whole, however it is split") {
  std::vector<std::uint8_t> stream;
  append(stream, frame(basp_operation::client_handshake, 40));
  append(stream, frame(basp_operation::client_handshake, 40)); // CAF repeats it with select_connection_flag
  append(stream, frame(basp_operation::heartbeat, 0));
  append(stream, frame(basp_operation::direct_message, 4096, /*dest=*/9));
  append(stream, frame(basp_operation::monitor_message, 30, 9));
  append(stream, frame(basp_operation::down_message, 30, 0, /*source=*/5));
  for (std::size_t piece : {1u, 7u, 31u, 32u, 33u, 1000u, 100000u}) {
    CAPTURE(piece);
    basp_inbound_filter f{small_limits()};
    CHECK(feed(f, stream, piece) == stream.size());
    CHECK(f.handshake_done());
    CHECK(f.messages() == 6);
    CHECK(f.current() == basp_inbound_filter::state::at_header);
  }
}

TEST_CASE("a header passes only after its payload got budget, and only whole") {
  basp_inbound_filter f{small_limits()};
  auto hs = frame(basp_operation::client_handshake, 40);
  // 31 bytes: an incomplete header is neither passed nor consumed.
  CHECK(f.offer(hs.data(), 31) == 0);
  CHECK(f.current() == basp_inbound_filter::state::at_header);
  CHECK(f.offer(hs.data(), hs.size()) == 0);
  REQUIRE(f.current() == basp_inbound_filter::state::needs_budget);
  CHECK(f.pending_payload() == 40);
  CHECK(f.offer(hs.data(), hs.size()) == 0); // still waiting: nothing passes
  f.grant();
  CHECK(f.offer(hs.data(), 50) == 50); // header and the first 18 payload bytes
  CHECK(f.payload_remaining() == 22);
  CHECK(!f.handshake_done());
  CHECK(f.offer(hs.data() + 50, hs.size() - 50) == hs.size() - 50);
  CHECK(f.handshake_done());
}

TEST_CASE("hostile streams are refused before CAF sees their header") {
  SUBCASE("a 4 GiB payload announced in the first 32 bytes") {
    basp_inbound_filter f{frame_limits{}};
    auto attack = frame(basp_operation::direct_message, 0xfffffff0u, 1);
    CHECK(f.offer(attack.data(), attack.size()) == 0);
    CHECK(f.current() == basp_inbound_filter::state::refused);
    CHECK(f.verdict() == frame_verdict::handshake_expected);
  }
  SUBCASE("a 4 GiB payload after a valid handshake") {
    basp_inbound_filter f{frame_limits{}};
    auto stream = frame(basp_operation::client_handshake, 40);
    auto attack = frame(basp_operation::direct_message, 0xfffffff0u, 1);
    append(stream, attack);
    CHECK(feed(f, stream, 4096) == 72);
    CHECK(f.current() == basp_inbound_filter::state::refused);
    CHECK(f.verdict() == frame_verdict::too_large);
  }
  SUBCASE("text instead of BASP") {
    basp_inbound_filter f{frame_limits{}};
    std::string http = "GET / HTTP/1.1\r\nHost: node\r\nUser-Agent: scanner\r\n\r\n";
    CHECK(f.offer(reinterpret_cast<const std::uint8_t*>(http.data()), http.size()) == 0);
    CHECK(f.verdict() == frame_verdict::unknown_operation);
  }
  SUBCASE("a first byte that cannot start a handshake, before the header is complete") {
    basp_inbound_filter f{frame_limits{}};
    std::uint8_t tls_hello[] = {0x16, 0x03, 0x01};
    CHECK(f.offer(tls_hello, 3) == 0);
    CHECK(f.verdict() == frame_verdict::unknown_operation);
    basp_inbound_filter g{frame_limits{}};
    std::uint8_t heartbeat_first[] = {0x06, 0x00};
    CHECK(g.offer(heartbeat_first, 2) == 0);
    CHECK(g.verdict() == frame_verdict::handshake_expected);
    basp_inbound_filter h{frame_limits{}};
    std::uint8_t handshake_start[] = {0x01, 0x00};
    CHECK(h.offer(handshake_start, 2) == 0);
    CHECK(h.current() == basp_inbound_filter::state::at_header); // may still become a handshake
  }
  SUBCASE("refused stays refused") {
    basp_inbound_filter f{small_limits()};
    auto bad = frame(basp_operation::heartbeat, 0);
    CHECK(f.offer(bad.data(), bad.size()) == 0);
    auto good = frame(basp_operation::client_handshake, 40);
    CHECK(f.offer(good.data(), good.size()) == 0);
    CHECK(f.current() == basp_inbound_filter::state::refused);
  }
}
