// The guard's payload check (src/net/basp_payload.cpp, message_types.cpp): every message
// Flotilla sends, serialized by CAF exactly as BASP does, passes; messages CAF 0.17.6 cannot
// deserialize safely (@charbuf, a long @strvec, @message, errors nesting further, a huge
// forwarding stack) are refused after their first bytes; the allowlist knows every type
// add_protocol_types registers; and live, through a guard with the default allowlist, real
// Flotilla requests, responses, errors and down messages pass both ways while hostile
// messages close the connection and the node lives on.
#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/io/all.hpp>

#include <algorithm>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actors/errors.hpp"
#include "actors/protocol.hpp"
#include "net/basp_frame.hpp"
#include "net/basp_payload.hpp"
#include "net/guard.hpp"
#include "net/message_types.hpp"
#include "net_fixtures.hpp"

using namespace flotilla;
using namespace flotilla::actors;
using namespace flotilla::test;
using net::basp_operation;
using net::payload_verdict;
using bytes = std::vector<std::uint8_t>;

namespace {

// The node's atoms that runtime/node.cpp defines for itself (same values).
using stop_atom = caf::atom_constant<caf::atom("nodestop")>;

struct proto_config : net_config {
  proto_config() { add_protocol_types(*this); }
};

/// An actor system that serializes the way a BASP broker does (binary_serializer with the
/// system as context), with a few local actors for the handles messages carry.
struct wire {
  proto_config cfg;
  caf::actor_system sys{cfg};
  caf::actor a = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  caf::actor b = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  net::message_allowlist allow = net::message_allowlist::flotilla();

  ~wire() {
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  }

  template <class... Ts>
  bytes encode(const Ts&... xs) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    auto err = sink(const_cast<Ts&>(xs)...);
    REQUIRE_MESSAGE(!err, sys.render(err));
    return bytes(buf.begin(), buf.end());
  }

  /// A direct_message payload: instance::dispatch writes sink(forwarding_stack, msg).
  bytes direct(const caf::message& msg, std::vector<caf::strong_actor_ptr> stages = {}) { return encode(stages, msg); }
  /// A routed_message payload: sink(source_node, dest_node, forwarding_stack, msg).
  bytes routed(const caf::message& msg) {
    std::vector<caf::strong_actor_ptr> stages;
    return encode(sys.node(), other_node(), stages, msg);
  }
  /// A down_message payload: sink(this_node, dest_node, reason).
  bytes down(const caf::error& reason) { return encode(sys.node(), other_node(), reason); }

  static caf::node_id other_node() {
    return *caf::make_node_id(4242, "0123456789abcdef0123456789abcdef01234567");
  }

  /// Checks a whole payload at once.
  payload_verdict check(basp_operation op, const bytes& p) {
    return net::check_payload(static_cast<std::uint8_t>(op), p.data(), p.size(), p.size(), allow);
  }
};

weight_blob blob(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(i) * 0.5f;
  return weight_blob{7, std::move(v)};
}

/// Every request and response Flotilla's actors exchange (src/actors, src/runtime), with
/// values of the kinds they carry.
std::vector<std::pair<std::string, caf::message>> flotilla_messages(wire& w) {
  fit_ins fi{fl::fit_config{3, 1, 0.05, 0.01}, blob(100)};
  fit_result fr;
  fr.client_id = 4;
  fr.weights = blob(100);
  server_role role;
  role.cluster = 2;
  role.strategy.name = "fedavg";
  role.state.buffers = {std::vector<float>(5, 1.0f)};
  role.model = blob(50);
  cluster_round_ins cri{3, {peer{0, w.a}, peer{1, w.b}}};
  round_result rr;
  rr.record.phase = "cluster";
  rr.record.failure_reasons = {"timeout", "down"};
  rr.model = blob(20);
  rr.aggregator = w.a.address();
  rr.split_off = {1, 2};
  return {
    // Requests.
    {"fit (client)", caf::make_message(fit_atom::value, fi)},
    {"fit (pool)", caf::make_message(fit_atom::value, std::uint32_t{3}, fi)},
    {"evaluate (client)", caf::make_message(evaluate_atom::value, blob(10))},
    {"evaluate (pool)", caf::make_message(evaluate_atom::value, std::uint32_t{3}, blob(10))},
    {"evaluate range (pool)", caf::make_message(evaluate_atom::value, std::uint32_t{0}, std::uint32_t{9}, blob(10))},
    {"losses", caf::make_message(losses_atom::value, std::vector<weight_blob>{blob(4), blob(4)})},
    {"losses (pool)", caf::make_message(losses_atom::value, std::uint32_t{1}, std::vector<weight_blob>{blob(4)})},
    {"resources", caf::make_message(resources_atom::value)},
    {"fault", caf::make_message(fault_atom::value, std::string("crash"), 2.5)},
    {"promote", caf::make_message(promote_atom::value, role)},
    {"demote", caf::make_message(demote_atom::value)},
    {"cluster round", caf::make_message(cluster_round_atom::value, cri)},
    {"run", caf::make_message(run_atom::value)},
    {"next", caf::make_message(next_atom::value, std::uint32_t{2})},
    {"setup", caf::make_message(setup_atom::value, std::string("{\"experiment\": {}}"),
                                std::vector<std::uint32_t>{0, 2, 4}, std::string(64, 'f'))},
    {"teardown", caf::make_message(teardown_atom::value)},
    {"link", caf::make_message(link_atom::value, std::vector<std::string>{"10.0.0.2:7000", "10.0.0.3:7000"})},
    {"link (none)", caf::make_message(link_atom::value, std::vector<std::string>{})},
    {"join (desk)", caf::make_message(join_atom::value, w.a)},
    {"join (coordinator)", caf::make_message(join_atom::value, std::vector<peer>{peer{5, w.a}})},
    {"stop", caf::make_message(stop_atom::value)},
    // Responses.
    {"fit_result", caf::make_message(fr)},
    {"eval_result", caf::make_message(eval_result{1, 100, 0.5, 0.9})},
    {"resource_report", caf::make_message(resource_report{})},
    {"round_result", caf::make_message(rr)},
    {"client id / count", caf::make_message(std::uint32_t{3})},
    {"losses answer", caf::make_message(std::vector<double>{0.1, 0.2})},
    {"setup answer", caf::make_message(std::vector<caf::actor>{w.a, w.b})},
    {"ok", caf::make_message(caf::ok_atom::value)},
    {"void answer (empty message)", caf::message{}},
    // CAF's own exchange on each new connection (basp_broker::learned_new_node).
    {"CAF: info request", caf::make_message(caf::sys_atom::value, caf::get_atom::value, std::string("info"))},
    {"CAF: info answer", caf::make_message(caf::ok_atom::value, std::string("info"),
                                           caf::actor_cast<caf::strong_actor_ptr>(w.a), std::string("spawn_server"))},
    {"CAF: a named actor", caf::make_message(caf::actor_cast<caf::strong_actor_ptr>(w.a))},
    // A null handle inside a message.
    {"join with a null handle", caf::make_message(join_atom::value, caf::actor{})},
  };
}

/// Every error a Flotilla node may answer with or report in a down message: errc with its
/// text, each of CAF's sec codes (some with the context CAF gives them), exit reasons.
std::vector<caf::error> flotilla_errors() {
  std::vector<caf::error> out;
  for (int c = static_cast<int>(errc::model_error); c <= static_cast<int>(errc::round_failed); ++c)
    out.push_back(make_error(static_cast<errc>(c), "what happened, and what to do (" + std::to_string(c) + ")"));
  for (int c = 1; c <= static_cast<int>(caf::sec::connection_timeout); ++c)
    out.push_back(caf::make_error(static_cast<caf::sec>(c)));
  out.push_back(caf::make_error(caf::sec::cannot_connect_to_node, "ip_connect failed", std::string("10.0.0.2"),
                                std::uint16_t{7000}));
  out.push_back(caf::make_error(caf::sec::no_actor_published_at_port, std::uint16_t{7000}));
  out.push_back(caf::make_error(caf::sec::unknown_type, std::string("flotilla::other")));
  out.push_back(caf::make_error(caf::sec::invalid_argument, "a float buffer of 5 floats exceeds the message"));
  for (auto r : {caf::exit_reason::unhandled_exception, caf::exit_reason::unknown, caf::exit_reason::out_of_workers,
                 caf::exit_reason::user_shutdown, caf::exit_reason::kill, caf::exit_reason::remote_link_unreachable,
                 caf::exit_reason::unreachable})
    out.push_back(caf::make_error(r));
  return out;
}

/// Feeds a client handshake, then `frame`, to a filter with the allowlist, in pieces of
/// `piece` bytes (unconsumed bytes offered again, budget always granted); returns how many of
/// the frame's bytes passed.
std::size_t feed(const net::message_allowlist& allow, const bytes& frame, std::size_t piece,
                 net::basp_inbound_filter::state* end = nullptr) {
  net::basp_inbound_filter f{net::frame_limits{}, &allow};
  auto hs = client_handshake_bytes();
  bytes all(hs.begin(), hs.end());
  all.insert(all.end(), frame.begin(), frame.end());
  std::size_t passed = 0, available = 0;
  for (;;) {
    passed += f.offer(all.data() + passed, available - passed);
    if (f.current() == net::basp_inbound_filter::state::needs_budget) {
      f.grant();
      continue;
    }
    if (f.current() == net::basp_inbound_filter::state::refused || available == all.size())
      break;
    available = std::min(all.size(), available + piece);
  }
  if (end)
    *end = f.current();
  REQUIRE(passed >= hs.size());
  return passed - hs.size();
}

bytes frame(basp_operation op, const bytes& payload, std::uint64_t dest = 1) {
  net::basp_header h;
  h.operation = static_cast<std::uint8_t>(op);
  h.payload_len = static_cast<std::uint32_t>(payload.size());
  h.dest_actor = op == basp_operation::down_message ? 0 : dest;
  h.source_actor = op == basp_operation::down_message ? 1 : 0;
  bytes out(net::basp_header_size);
  net::write_basp_header(h, out.data());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

/// A caf::message of one element `type` whose bytes are `body` (as hostile_peer.py builds them).
bytes raw_message(const std::string& type_names, const bytes& body) {
  bytes out{0x00, 0x00};
  std::string name = "@<>" + (type_names.empty() ? std::string() : "+" + type_names);
  for (auto v = name.size(); ; v >>= 7) {
    out.push_back(static_cast<std::uint8_t>((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)));
    if (v < 0x80)
      break;
  }
  out.insert(out.end(), name.begin(), name.end());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

bytes varint(std::uint64_t v) {
  bytes out;
  for (; v >= 0x80; v >>= 7)
    out.push_back(static_cast<std::uint8_t>((v & 0x7f) | 0x80));
  out.push_back(static_cast<std::uint8_t>(v));
  return out;
}

bytes join(bytes a, const bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bytes be64(std::uint64_t v) {
  bytes b(8);
  for (int i = 7; i >= 0; --i, v >>= 8)
    b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
  return b;
}

/// An @error whose context holds an @error ... DEPTH deep (code 1, category atom("")).
bytes nested_errors(std::size_t depth) {
  auto head = join(bytes{0x01}, be64(static_cast<std::uint64_t>(caf::atom(""))));
  auto level = join(head, raw_message("@error", {}));
  auto out = raw_message("@error", {});
  for (std::size_t i = 0; i < depth; ++i)
    out.insert(out.end(), level.begin(), level.end());
  return join(join(out, head), raw_message("", {}));
}

/// A message of one element: `inner` (make_message(msg) would return msg itself).
caf::message holding(caf::message inner) {
  caf::message_builder mb;
  mb.append(std::move(inner));
  return mb.to_message();
}

/// hostile_peer.py's nested mode: DEPTH messages each holding the next.
bytes nested(std::size_t depth, const std::string& level_type = "@message") {
  auto level = raw_message(level_type, {});
  bytes out;
  out.reserve(depth * level.size() + 8);
  for (std::size_t i = 0; i < depth; ++i)
    out.insert(out.end(), level.begin(), level.end());
  return join(out, raw_message("", {}));
}

} // namespace

TEST_CASE("the allowlist knows every type add_protocol_types registers, and nothing it does not") {
  caf::actor_system_config bare, ours;
  add_protocol_types(ours);
  auto allow = net::message_allowlist::flotilla();
  std::set<std::string> registered;
  for (const auto& [name, factory] : ours.value_factories_by_name)
    if (bare.value_factories_by_name.count(name) == 0)
      registered.insert(name);
  REQUIRE(registered.size() >= 3 * net::flotilla_protocol_types().size());
  for (const auto& name : registered) {
    bool known = allow.find(name) != nullptr || net::registered_but_refused(name);
    CHECK_MESSAGE(known, "protocol.cpp registers \"" << name << "\", which src/net/message_types.cpp neither allows "
                                                     << "nor refuses on purpose: add it to flotilla_protocol_types()");
  }
  // The other way round: the allowlist's own names are all registered (none is stale).
  for (const auto& name : net::flotilla_protocol_types())
    CHECK_MESSAGE(registered.count(name) == 1, "message_types.cpp lists \"" << name << "\", which protocol.cpp does "
                                                                           << "not register (any more?)");
  // Every CAF builtin the allowlist names exists in 0.17.6 (no typo lets a type through unseen).
  std::set<std::string> builtins(caf::numbered_type_names, caf::numbered_type_names + caf::type_nrs - 1);
  for (const auto& name : allow.names()) {
    if (name.rfind("flotilla::", 0) == 0 || name.rfind("std::vector<", 0) == 0)
      continue;
    CHECK_MESSAGE(builtins.count(name) == 1, name << " is not a CAF 0.17.6 builtin type name");
  }
  // The builtins refused on purpose.
  for (const char* name : {"@charbuf", "@message", "@strset", "@strmap", "@u16str", "@u32str",
                           "@ldouble", "@down", "@exit", "@group", "@node", "@config_value", "@weak_actor_ptr",
                           "@addrvec", "@downstream_msg", "@upstream_msg", "@open_stream_msg", "@timeout", "@unit"})
    CHECK_MESSAGE(allow.find(name) == nullptr, name);
}

TEST_CASE("every Flotilla message, request and response, direct and routed, passes the payload check") {
  wire w;
  auto messages = flotilla_messages(w);
  // The element type names CAF writes for them are all allowed (not merely accepted by luck).
  for (auto& [what, msg] : messages) {
    CAPTURE(what);
    auto direct = w.direct(msg);
    auto v = w.check(basp_operation::direct_message, direct);
    CHECK_MESSAGE(v.result == payload_verdict::accept, v.why);
    auto routed = w.routed(msg);
    v = w.check(basp_operation::routed_message, routed);
    CHECK_MESSAGE(v.result == payload_verdict::accept, v.why);
    // Through the streaming filter, in small and large pieces: every byte passes.
    for (std::size_t piece : {1u, 7u, 1000u, 1u << 20})
      CHECK(feed(w.allow, frame(basp_operation::direct_message, direct), piece) == direct.size() + 32);
  }
  // setup's answer travels as CAF's builtin name, not as the registered one.
  auto setup = w.direct(caf::make_message(std::vector<caf::actor>{w.a}));
  CHECK(std::string(setup.begin(), setup.end()).find("@<>+@actorvec") != std::string::npos);
}

TEST_CASE("errors pass as answers and in down messages; a forwarding stack of up to 16 entries passes") {
  wire w;
  for (const auto& e : flotilla_errors()) {
    CAPTURE(w.sys.render(e));
    auto answer = w.direct(caf::make_message(e));
    auto v = w.check(basp_operation::direct_message, answer);
    CHECK_MESSAGE(v.result == payload_verdict::accept, v.why);
    auto down = w.down(e);
    v = w.check(basp_operation::down_message, down);
    CHECK_MESSAGE(v.result == payload_verdict::accept, v.why);
    CHECK(feed(w.allow, frame(basp_operation::down_message, down), 3) == down.size() + 32);
  }
  auto normal = w.down(caf::error{}); // a normal exit: no error at all
  CHECK(w.check(basp_operation::down_message, normal).result == payload_verdict::accept);
  // monitor_message and client_handshake: node ids exactly as CAF writes them.
  auto monitor = w.encode(w.sys.node(), wire::other_node());
  CHECK(w.check(basp_operation::monitor_message, monitor).result == payload_verdict::accept);
  auto hs = w.encode(w.sys.node());
  CHECK(w.check(basp_operation::client_handshake, hs).result == payload_verdict::accept);
  // Forwarding stacks: CAF's requests and responses carry none; a short one passes.
  std::vector<caf::strong_actor_ptr> stages(16, caf::actor_cast<caf::strong_actor_ptr>(w.a));
  stages[3] = nullptr;
  auto staged = w.direct(caf::make_message(run_atom::value), stages);
  CHECK(w.check(basp_operation::direct_message, staged).result == payload_verdict::accept);
}

TEST_CASE("a 6.6 MB model message is decided on its first bytes") {
  wire w;
  fit_result fr;
  fr.weights = blob(1'650'000);
  auto p = w.direct(caf::make_message(fr));
  REQUIRE(p.size() > 6'600'000);
  for (std::size_t avail : {std::size_t{10}, std::size_t{40}, std::size_t{100}}) {
    auto v = net::check_payload(static_cast<std::uint8_t>(basp_operation::direct_message), p.data(), avail, p.size(),
                                w.allow);
    if (v.result == payload_verdict::need_more) {
      CHECK(v.need > avail);
      CHECK(v.need <= 64);
    } else {
      CHECK(v.result == payload_verdict::accept);
    }
  }
  auto v = net::check_payload(static_cast<std::uint8_t>(basp_operation::direct_message), p.data(), 64, p.size(), w.allow);
  CHECK(v.result == payload_verdict::accept);
  CHECK(feed(w.allow, frame(basp_operation::direct_message, p), 1u << 16) == p.size() + 32);
}

TEST_CASE("messages CAF 0.17.6 cannot deserialize safely are refused before their payload passes") {
  wire w;
  struct hostile {
    std::string what;
    basp_operation op;
    bytes payload;
    std::string why; // part of the refusal
  };
  auto stack0 = varint(0);
  std::vector<hostile> cases = {
    {"@charbuf claiming 1 GiB (hostile_peer.py charbuf)", basp_operation::direct_message,
     join(stack0, raw_message("@charbuf", join(varint(1u << 30), bytes(16, 0)))), "element type @charbuf"},
    {"a real std::vector<char>", basp_operation::direct_message, w.direct(caf::make_message(std::vector<char>(10, 'x'))),
     "@charbuf"},
    {"@strvec of 4 Mi empty strings (hostile_peer.py strvec)", basp_operation::direct_message,
     join(stack0, raw_message("@strvec", join(varint(1u << 22), bytes(1u << 22, 0)))), "@strvec of 4194304 strings"},
    {"link with 5000 peer addresses", basp_operation::direct_message,
     w.direct(caf::make_message(link_atom::value, std::vector<std::string>(5000, "h:1"))), "at most 4096"},
    {"@strvec after an element of unknown size", basp_operation::direct_message,
     w.direct(caf::make_message(blob(3), std::vector<std::string>{"a"})), "whose size the guard cannot tell"},
    {"nested @message 100,000 deep (hostile_peer.py nested)", basp_operation::direct_message,
     join(stack0, nested(100000)), "element type @message"},
    {"a message holding a message", basp_operation::direct_message, w.direct(holding(caf::make_message(std::uint32_t{1}))),
     "element type @message"},
    {"a message holding a message and more", basp_operation::direct_message,
     w.direct(caf::make_message(caf::make_message(std::uint32_t{1}), std::uint32_t{2})), "element type @message"},
    {"an error whose context holds an error", basp_operation::direct_message,
     w.direct(caf::make_message(caf::error(1, caf::atom("system"), caf::make_message(caf::make_error(caf::exit_reason::kill))))),
     "an error context holding @error"},
    {"an error whose context holds a message", basp_operation::direct_message,
     w.direct(caf::make_message(caf::error(1, caf::atom("system"), holding(caf::make_message(std::uint32_t{1}))))),
     "an error context with element type @message"},
    {"an error whose context holds a protocol type (CAF's unexpected_response)", basp_operation::direct_message,
     w.direct(caf::make_message(caf::make_error(caf::sec::unexpected_response, caf::make_message(eval_result{})))),
     "an error context holding flotilla::eval_result"},
    {"an error whose context holds a container", basp_operation::direct_message,
     w.direct(caf::make_message(caf::error(1, caf::atom("system"), caf::make_message(std::vector<std::string>{"a"})))),
     "an error context holding @strvec"},
    {"errors nested 1,000 deep", basp_operation::direct_message, join(stack0, nested_errors(1000)),
     "an error context holding @error"},
    {"errors nested 100,000 deep", basp_operation::direct_message, join(stack0, nested_errors(100000)),
     "an error message of 2200029 bytes (at most 65536)"},
    {"an error inside a message of two elements", basp_operation::direct_message,
     w.direct(caf::make_message(run_atom::value, caf::make_error(caf::exit_reason::kill))), "may only be the whole message"},
    {"an error message of 100 KiB", basp_operation::direct_message,
     w.direct(caf::make_message(make_error(errc::model_error, std::string(100u << 10, 'x')))), "at most 65536"},
    {"a down message of 100 KiB", basp_operation::down_message,
     w.down(make_error(errc::model_error, std::string(100u << 10, 'x'))), "at most 65536"},
    {"a down message whose error context holds a message", basp_operation::down_message,
     w.down(caf::error(1, caf::atom("system"), holding(caf::make_message(std::uint32_t{1})))), "@message"},
    {"a down message whose error context holds an error", basp_operation::down_message,
     w.down(caf::error(1, caf::atom("system"), caf::make_message(caf::make_error(caf::exit_reason::kill)))),
     "an error context holding @error"},
    {"a forwarding stack of 17 entries", basp_operation::direct_message,
     w.direct(caf::make_message(run_atom::value),
              std::vector<caf::strong_actor_ptr>(17, caf::actor_cast<caf::strong_actor_ptr>(w.a))),
     "forwarding stack of 17 entries"},
    {"a forwarding stack claiming 2^32-1 entries", basp_operation::direct_message,
     join(varint(0xffffffffu), bytes(64, 0)), "forwarding stack of 4294967295"},
    {"(link_atom, strong_actor_ptr), which CAF intercepts", basp_operation::direct_message,
     w.direct(caf::make_message(caf::link_atom::value, caf::actor_cast<caf::strong_actor_ptr>(w.a))),
     "remote link or unlink"},
    {"a std::set<std::string>", basp_operation::direct_message,
     w.direct(caf::make_message(std::set<std::string>{"a"})), "@strset"},
    {"a stream<> of a protocol type", basp_operation::direct_message,
     join(stack0, raw_message("stream<flotilla::weight_blob>", {})), "stream<flotilla::weight_blob>"},
    {"a vector of vectors", basp_operation::direct_message,
     join(stack0, raw_message("std::vector<std::vector<double>>", varint(0))), "std::vector<std::vector<double>>"},
    {"an unknown type name", basp_operation::direct_message, join(stack0, raw_message("flotilla::nope", {})),
     "flotilla::nope"},
    {"an empty element name", basp_operation::direct_message,
     join(stack0, join(bytes{0, 0}, join(varint(4), bytes{'@', '<', '>', '+'}))), "(empty)"},
    {"an empty element name between two", basp_operation::direct_message, join(stack0, raw_message("@u8++@u8", {})),
     "(empty)"},
    {"a type number other than 0", basp_operation::direct_message, join(stack0, bytes{0x00, 0x05}), "type number 5"},
    {"a type name not starting with @<>+", basp_operation::direct_message,
     join(stack0, join(bytes{0, 0}, join(varint(4), bytes{'@', 'i', '3', '2'}))), "not starting with @<>+"},
    {"a type name of 100 KiB", basp_operation::direct_message,
     join(stack0, join(bytes{0, 0}, join(varint(100u << 10), bytes(100u << 10, '+')))), "type name of 102400 bytes"},
    {"33 elements", basp_operation::direct_message, [&] {
       std::string names = "@u8";
       for (int i = 0; i < 32; ++i)
         names += "+@u8";
       return join(stack0, raw_message(names, bytes(33, 0)));
     }(), "more than 32 elements"},
    {"a payload ending inside its type name", basp_operation::direct_message,
     join(stack0, join(bytes{0, 0}, join(varint(40), bytes{'@', '<', '>', '+'}))), "ends inside"},
    {"a 6-byte varint", basp_operation::direct_message, bytes{0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0}, "longer than 5"},
    {"a routed message with a URI node id", basp_operation::routed_message,
     join(be64(static_cast<std::uint64_t>(caf::atom("uri"))), bytes(64, 0)), "URI node id"},
    {"a monitor message with trailing bytes", basp_operation::monitor_message,
     join(w.encode(w.sys.node(), wire::other_node()), bytes(1u << 20, 0)), "where CAF writes 64"},
    {"a client handshake with an empty node id", basp_operation::client_handshake, w.encode(caf::node_id{}),
     "an empty node id"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto v = w.check(c.op, c.payload);
    CHECK(v.result == payload_verdict::refuse);
    CHECK_MESSAGE(v.why.find(c.why) != std::string::npos, "refused for: " << v.why);
    if (c.op == basp_operation::client_handshake)
      continue; // (a second handshake is a frame the filter refuses anyway)
    // Through the filter, in any split: the header passes, no byte of the payload does.
    for (std::size_t piece : {1u, 13u, 4096u, 1u << 22}) {
      net::basp_inbound_filter::state end{};
      auto passed = feed(w.allow, frame(c.op, c.payload), piece, &end);
      CHECK(end == net::basp_inbound_filter::state::refused);
      CHECK(passed == net::basp_header_size);
    }
  }
}

TEST_CASE("a structure longer than the inspected window is refused, a slow one waits") {
  wire w;
  // A forwarding stack of 16 entries of default node ids is 641 bytes: well inside the window.
  // A message whose @strvec comes after 5 KiB of strings cannot be decided within it.
  auto p = w.direct(caf::make_message(std::string(5000, 'x'), std::vector<std::string>{"a"}));
  auto v = w.check(basp_operation::direct_message, p);
  CHECK(v.result == payload_verdict::refuse);
  CHECK(v.why.find("4096 bytes the guard inspects") != std::string::npos);
  // The same bytes arriving slowly: each offer asks for exactly what it misses.
  auto link = w.direct(caf::make_message(link_atom::value, std::vector<std::string>{"a:1"}));
  std::size_t avail = 0;
  int rounds = 0;
  for (;;) {
    v = net::check_payload(static_cast<std::uint8_t>(basp_operation::direct_message), link.data(), avail, link.size(),
                           w.allow);
    if (v.result != payload_verdict::need_more)
      break;
    CHECK(v.need > avail);
    avail = v.need;
    ++rounds;
  }
  CHECK(v.result == payload_verdict::accept);
  CHECK(rounds <= 8);
}

namespace {

template <class T>
struct answer_tag {
  using type = T;
};

// The node side of the live test: answers Flotilla requests, and asks the peer's actor the
// other way round (so answers, errors and down messages come from the peer, through the guard).
struct node_state {
  std::string down_reason;
};

caf::behavior live_node(caf::stateful_actor<node_state>* self) {
  self->set_down_handler([=](caf::down_msg& dm) { self->state.down_reason = text_of(self->system(), dm.reason); });
  return {
    [=](fit_atom, const fit_ins& in) {
      fit_result r;
      r.round = in.config.round;
      r.weights = in.weights;
      return r;
    },
    [=](link_atom, const std::vector<std::string>& peers) { return static_cast<std::uint32_t>(peers.size()); },
    [=](setup_atom, const std::string&, const std::vector<std::uint32_t>& ids, const std::string&) {
      return std::vector<caf::actor>(ids.size(), caf::actor_cast<caf::actor>(self));
    },
    [=](teardown_atom) -> caf::result<std::uint32_t> { return make_error(errc::not_owner, "not yours"); },
    [=](cluster_round_atom, const cluster_round_ins& ins) {
      round_result r;
      r.record.round = ins.round;
      r.aggregator = self->address();
      return r;
    },
    // Asks the peer's actor for a fit (6.6 MB back through the guard) and for an evaluation
    // that fails; answers with the size and the error's text.
    [=](join_atom, caf::actor other) -> caf::result<std::uint32_t> {
      self->monitor(other);
      auto rp = self->make_response_promise<std::uint32_t>();
      fit_ins in{fl::fit_config{1, 1, 0.1, 0}, blob(1'650'000)};
      self->request(other, std::chrono::seconds(20), fit_atom::value, in)
        .then(
          [=](const fit_result& r) mutable {
            self->request(other, std::chrono::seconds(20), evaluate_atom::value, blob(1))
              .then([=](const eval_result&) mutable { rp.deliver(std::uint32_t{0}); },
                    [=](caf::error& e) mutable {
                      rp.deliver(text_of(self->system(), e) == "diverged" ? static_cast<std::uint32_t>(r.weights.size())
                                                                          : std::uint32_t{1});
                    });
          },
          [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](caf::get_atom) { return self->state.down_reason; },
  };
}

// The peer side: trains (echoes the model), fails evaluations, and dies on demote with an
// errc reason (a down message with an error context crosses the guard).
caf::behavior live_peer(caf::event_based_actor* self) {
  return {
    [=](fit_atom, const fit_ins& in) {
      fit_result r;
      r.weights = in.weights;
      return r;
    },
    [=](evaluate_atom, const weight_blob&) -> caf::result<eval_result> {
      return make_error(errc::model_error, "diverged");
    },
    [=](demote_atom) { self->quit(make_error(errc::injected_fault, "client 3 crashed (injected)")); },
  };
}

} // namespace

TEST_CASE("live: Flotilla's messages pass a guard with the default allowlist both ways; hostile ones close") {
  proto_config node_cfg, peer_cfg;
  caf::actor_system node_sys{node_cfg}, peer_sys{peer_cfg};
  auto published = node_sys.spawn(live_node);
  net::guard_options options;
  std::mutex event_mutex;
  std::vector<std::string> events;
  options.on_event = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock{event_mutex};
    events.push_back(line);
  };
  auto guard = net::guard::start(node_sys, published, options);
  auto show_events = [&] {
    std::lock_guard<std::mutex> lock{event_mutex};
    std::string all;
    for (const auto& e : events)
      all += e + "\n";
    return all;
  };
  {
    auto remote = peer_sys.middleman().remote_actor("127.0.0.1", guard->port());
    REQUIRE_MESSAGE(remote, "remote_actor through the guard failed");
    caf::scoped_actor self{peer_sys};
    self->monitor(*remote); // a monitor_message through the guard
    // ask<T>(request...): the answer of type T, or the error's text.
    auto ask = [&](auto tag, auto... xs) {
      using answer_type = typename decltype(tag)::type;
      std::pair<std::optional<answer_type>, std::string> out;
      self->request(*remote, std::chrono::seconds(30), xs...)
        .receive([&](answer_type& x) { out.first = std::move(x); },
                 [&](caf::error& e) { out.second = text_of(peer_sys, e); });
      return out;
    };
    auto as = [](auto x) { return answer_tag<decltype(x)>{}; };
    // Requests node-bound, answers peer-bound.
    auto fit = ask(as(fit_result{}), fit_atom::value, fit_ins{fl::fit_config{5, 1, 0.1, 0}, blob(1'650'000)});
    CHECK_MESSAGE(fit.second.empty(), fit.second << "\n" << show_events());
    CHECK((fit.first && fit.first->round == 5 && fit.first->weights.size() == 1'650'000));
    auto linked = ask(as(std::uint32_t{}), link_atom::value, std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2"});
    CHECK((linked.first && *linked.first == 2));
    auto set = ask(as(std::vector<caf::actor>{}), setup_atom::value, std::string("{}"),
                   std::vector<std::uint32_t>{0, 1, 2}, std::string("f"));
    CHECK((set.first && set.first->size() == 3));
    auto td = ask(as(std::uint32_t{}), teardown_atom::value);
    CHECK(td.second == "not yours");
    auto cr = ask(as(round_result{}), cluster_round_atom::value, cluster_round_ins{7, {peer{1, *remote}}});
    CHECK((cr.first && cr.first->record.round == 7));
    // The other way: the node asks the peer's actor; its answers and its error cross the guard.
    auto worker = peer_sys.spawn(live_peer);
    auto joined = ask(as(std::uint32_t{}), join_atom::value, worker);
    CHECK_MESSAGE(joined.second.empty(), joined.second << "\n" << show_events());
    CHECK((joined.first && *joined.first == 1'650'000));
    // The peer's actor dies with an errc reason: the down message crosses the guard.
    self->send(worker, demote_atom::value);
    bool seen = eventually(
      [&] {
        auto reason = ask(as(std::string{}), caf::get_atom::value);
        return reason.first && *reason.first == "client 3 crashed (injected)";
      },
      5.0);
    CHECK(seen);
    CHECK_MESSAGE(guard->stats().bad_frames == 0, show_events());
  }
  // Hostile messages after a valid handshake, to the published actor: each closes its
  // connection; the node (this process) survives and still answers.
  auto aid = published.id();
  std::vector<std::pair<std::string, bytes>> attacks = {
    {"charbuf 1 GiB", join(varint(0), raw_message("@charbuf", join(varint(1u << 30), bytes(16, 0))))},
    {"strvec 4 Mi", join(varint(0), raw_message("@strvec", join(varint(1u << 22), bytes(1u << 22, 0))))},
    {"nested 200,000", join(varint(0), nested(200000))},
  };
  std::uint32_t pid = 9000;
  for (const auto& [what, payload] : attacks) {
    CAPTURE(what);
    raw_peer attacker{guard->port()};
    REQUIRE(attacker.connected());
    auto hs = client_handshake_bytes(pid++);
    auto hdr = basp_header_bytes(basp_operation::direct_message, static_cast<std::uint32_t>(payload.size()), aid);
    bytes all(hs.begin(), hs.end());
    all.insert(all.end(), hdr.begin(), hdr.end());
    all.insert(all.end(), payload.begin(), payload.end());
    attacker.send(all); // may fail part-way: the guard closes as soon as it has seen enough
    CHECK(attacker.closed_within(5.0));
  }
  CHECK(eventually([&] { return guard->stats().bad_frames == attacks.size(); }, 2.0));
  {
    auto remote = peer_sys.middleman().remote_actor("127.0.0.1", guard->port());
    REQUIRE(remote);
    caf::scoped_actor self{peer_sys};
    bool ok = false;
    self->request(*remote, std::chrono::seconds(10), link_atom::value, std::vector<std::string>{})
      .receive([&](std::uint32_t n) { ok = n == 0; }, [](caf::error&) {});
    CHECK(ok);
  }
  guard->stop();
  caf::anon_send_exit(published, caf::exit_reason::user_shutdown);
}
