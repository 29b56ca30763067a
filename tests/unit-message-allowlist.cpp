// The guard's payload check (src/net/basp_payload.cpp, message_types.cpp): every message
// Flotilla sends, serialized by CAF exactly as BASP does, passes; messages CAF 0.17.6 cannot
// deserialize safely (@charbuf, a long @strvec, @message, errors nesting further, a huge
// forwarding stack) are refused after their first bytes; the allowlist knows every type
// add_protocol_types registers. The same through a live guard: unit-message-allowlist-live.
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
#include "common/message_type_names.hpp"
#include "net/basp_frame.hpp"
#include "net/basp_payload.hpp"
#include "net/guard.hpp"
#include "net/message_types.hpp"
#include "message_fixtures.hpp"
#include "net_fixtures.hpp"

using namespace flotilla;
using namespace flotilla::actors;
using namespace flotilla::test;
using net::basp_operation;
using net::payload_verdict;


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
                                                     << "nor refuses on purpose: register it through "
                                                     << "FLOTILLA_MESSAGE_TYPES (src/common/message_type_names.hpp)");
  }
  // The other way round: the allowlist's own names are all registered (none is stale).
  for (const auto& name : net::flotilla_protocol_types())
    CHECK_MESSAGE(registered.count(name) == 1, "the allowlist lists \"" << name << "\", which protocol.cpp does "
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

TEST_CASE("one list: add_protocol_types registers exactly its names, the allowlist takes them and nothing else of ours") {
  // FLOTILLA_MESSAGE_TYPES (src/common/message_type_names.hpp) is the only place a message type
  // is named; registration and allowlist both read it, so they cannot drift. This pins that both
  // really do: nothing registered beside the list, nothing of ours allowed beside it.
  caf::actor_system_config bare, ours;
  add_protocol_types(ours);
  auto allow = net::message_allowlist::flotilla();
  REQUIRE(net::flotilla_protocol_types().size() == message_type_names.size());
  std::set<std::string> listed, implied; // the list's names; with the vector and stream of each
  for (std::size_t i = 0; i < message_type_names.size(); ++i) {
    std::string name(message_type_names[i]);
    CHECK(net::flotilla_protocol_types()[i] == name);
    listed.insert(name);
    for (const auto& n : {name, "std::vector<" + name + ">", "stream<" + name + ">"})
      implied.insert(n);
  }
  CHECK(listed.size() == message_type_names.size());
  // Every name of the list is in the actor system's type registry and accepted by the guard, and
  // so is its vector unless refused on purpose.
  for (const auto& name : listed) {
    CAPTURE(name);
    CHECK(ours.value_factories_by_name.count(name) == 1);
    CHECK(allow.find(name) != nullptr);
    CHECK(!net::registered_but_refused(name));
    auto vec = "std::vector<" + name + ">";
    bool vec_allowed = allow.find(vec) != nullptr;
    CHECK(vec_allowed != net::registered_but_refused(vec));
    CHECK(allow.find("stream<" + name + ">") == nullptr);
  }
  // add_protocol_types registers nothing the list does not imply (no registration beside it).
  for (const auto& [name, factory] : ours.value_factories_by_name)
    if (bare.value_factories_by_name.count(name) == 0)
      CHECK_MESSAGE(implied.count(name) == 1, "add_protocol_types registers \"" << name << "\" outside "
                                                                                << "FLOTILLA_MESSAGE_TYPES");
  // The allowlist holds nothing of ours beside the list: each of its names is a CAF builtin, a
  // listed name or the vector of one.
  std::set<std::string> builtins(caf::numbered_type_names, caf::numbered_type_names + caf::type_nrs - 1);
  for (const auto& name : allow.names()) {
    bool ours_listed = listed.count(name) == 1
                       || (name.rfind("std::vector<", 0) == 0 && name.back() == '>'
                           && listed.count(name.substr(12, name.size() - 13)) == 1);
    bool known = builtins.count(name) == 1 || ours_listed;
    CHECK_MESSAGE(known, "the allowlist holds \"" << name << "\", neither a CAF builtin nor "
                                                 << "from the list");
  }
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
