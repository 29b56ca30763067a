#pragma once
// What the payload-check tests share: an actor system that serializes as a BASP broker does,
// every message Flotilla sends, and builders of hand-made (hostile) payloads.
#include <caf/all.hpp>
#include <caf/binary_serializer.hpp>

#include <string>
#include <utility>
#include <vector>

#include "actors/errors.hpp"
#include "actors/handles.hpp"
#include "actors/protocol.hpp"
#include "net/basp_frame.hpp"
#include "net/basp_payload.hpp"
#include "net/message_types.hpp"
#include "net_fixtures.hpp"

namespace flotilla::test {

using bytes = std::vector<std::uint8_t>;
using namespace flotilla::actors;
using net::basp_operation;
using net::payload_verdict;


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

inline weight_blob blob(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(i) * 0.5f;
  return weight_blob{7, std::move(v)};
}

/// Every request and response Flotilla's actors exchange (src/actors, src/runtime), with
/// values of the kinds they carry.
inline std::vector<std::pair<std::string, caf::message>> flotilla_messages(wire& w) {
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
  registration_wire signed_model;
  signed_model.present = true;
  signed_model.words[3] = 0x0123456789abcdefULL;
  cri.versions = {{2, signed_model}, {1, signed_model}}; // FedBuff under secure aggregation
  fi.secure_session = 11;
  fi.secure_ticket = 5;
  fi.model_registration = signed_model;
  round_result rr;
  rr.record.phase = "cluster";
  rr.record.failure_reasons = {"timeout", "down"};
  rr.model = blob(20);
  rr.aggregator = w.a.address();
  rr.split_off = {1, 2};
  return {
    // Requests.
    {"fit (client)", caf::make_message(fit_atom::value, fi)},
    {"train (pool)", caf::make_message(train_atom::value, std::uint32_t{3}, fi)},
    {"evaluate (client)", caf::make_message(evaluate_atom::value, blob(10))},
    {"assess (pool)", caf::make_message(assess_atom::value, std::uint32_t{3}, blob(10))},
    {"slice (pool worker)", caf::make_message(slice_atom::value, std::uint32_t{0}, std::uint32_t{9}, blob(10))},
    {"losses", caf::make_message(losses_atom::value, std::vector<weight_blob>{blob(4), blob(4)})},
    {"score (pool)", caf::make_message(score_atom::value, std::uint32_t{1}, std::vector<weight_blob>{blob(4)})},
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
    {"arrived (coordinator)", caf::make_message(arrived_atom::value, std::vector<peer>{peer{5, w.a}})},
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
inline std::vector<caf::error> flotilla_errors() {
  std::vector<caf::error> out;
  for (int c = static_cast<int>(errc::model_error); c <= static_cast<int>(errc::internal_error); ++c)
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
inline std::size_t feed(const net::message_allowlist& allow, const bytes& frame, std::size_t piece,
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

inline bytes frame(basp_operation op, const bytes& payload, std::uint64_t dest = 1) {
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
inline bytes raw_message(const std::string& type_names, const bytes& body) {
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

inline bytes varint(std::uint64_t v) {
  bytes out;
  for (; v >= 0x80; v >>= 7)
    out.push_back(static_cast<std::uint8_t>((v & 0x7f) | 0x80));
  out.push_back(static_cast<std::uint8_t>(v));
  return out;
}

inline bytes join(bytes a, const bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline bytes be64(std::uint64_t v) {
  bytes b(8);
  for (int i = 7; i >= 0; --i, v >>= 8)
    b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
  return b;
}

/// An @error whose context holds an @error ... DEPTH deep (code 1, category atom("")).
inline bytes nested_errors(std::size_t depth) {
  auto head = join(bytes{0x01}, be64(static_cast<std::uint64_t>(caf::atom(""))));
  auto level = join(head, raw_message("@error", {}));
  auto out = raw_message("@error", {});
  for (std::size_t i = 0; i < depth; ++i)
    out.insert(out.end(), level.begin(), level.end());
  return join(join(out, head), raw_message("", {}));
}

/// A message of one element: `inner` (make_message(msg) would return msg itself).
inline caf::message holding(caf::message inner) {
  caf::message_builder mb;
  mb.append(std::move(inner));
  return mb.to_message();
}

/// hostile_peer.py's nested mode: DEPTH messages each holding the next.
inline bytes nested(std::size_t depth, const std::string& level_type = "@message") {
  auto level = raw_message(level_type, {});
  bytes out;
  out.reserve(depth * level.size() + 8);
  for (std::size_t i = 0; i < depth; ++i)
    out.insert(out.end(), level.begin(), level.end());
  return join(out, raw_message("", {}));
}


} // namespace flotilla::test
