#include "net/message_types.hpp"

#include "common/message_type_names.hpp"

#include <algorithm>

namespace flotilla::net {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

} // namespace

const std::vector<std::string>& flotilla_protocol_types() {
  // The names add_protocol_types registers: both read src/common/message_type_names.hpp.
  static const std::vector<std::string> names(message_type_names.begin(), message_type_names.end());
  return names;
}

bool registered_but_refused(std::string_view name) {
  return starts_with(name, "stream<") || starts_with(name, "std::vector<std::vector<");
}

message_allowlist message_allowlist::flotilla() {
  message_allowlist a;
  // CAF 0.17.6 builtin names (type_nr.hpp, uniform_type_info_map.cpp numbered_type_names) of the
  // values Flotilla's messages carry. Sizes: binary_serializer writes integers and IEEE-754
  // floats in network byte order at their width, bool as one byte, atom_value as its uint64_t.
  for (auto [name, size] : {std::pair<const char*, std::uint8_t>{"@atom", 8}, {"@i8", 1}, {"@u8", 1}, {"@i16", 2},
                            {"@u16", 2}, {"@i32", 4}, {"@u32", 4}, {"@i64", 8}, {"@u64", 8}, {"float", 4},
                            {"double", 8}, {"bool", 1}})
    a.allow(name, {element_kind::fixed, size});
  a.allow("@str", {element_kind::string, 0});
  // caf::actor and caf::actor_addr (peer handles, round_result.aggregator, join/setup answers);
  // strong_actor_ptr in CAF's own exchange on every new connection: basp_broker's
  // learned_new_node asks the peer's SpawnServ (sys_atom, get_atom, "info"), and the answer is
  // (ok_atom, "info", strong_actor_ptr, name) (scheduled_actor.cpp, categorize). The one shape
  // of it CAF intercepts, (atom, strong_actor_ptr) for remote link/unlink, is refused in
  // basp_payload.cpp.
  a.allow("@actor", {element_kind::actor, 0});
  a.allow("@addr", {element_kind::actor, 0});
  a.allow("@strong_actor_ptr", {element_kind::actor, 0});
  a.allow("@actorvec", {element_kind::opaque, 0}); // setup's answer: the node's client handles
  a.allow("@strvec", {element_kind::string_list, 0}); // link_atom: the addresses of peer nodes
  a.allow("@error", {element_kind::error, 0});
  for (const auto& name : flotilla_protocol_types()) {
    a.allow_opaque(name);
    auto vec = "std::vector<" + name + ">";
    if (!registered_but_refused(vec))
      a.allow_opaque(vec);
  }
  return a;
}

message_allowlist& message_allowlist::allow(std::string name, element_rule rule) {
  rules_[std::move(name)] = rule;
  return *this;
}

const element_rule* message_allowlist::find(std::string_view name) const {
  auto i = rules_.find(std::string(name));
  return i == rules_.end() ? nullptr : &i->second;
}

std::vector<std::string> message_allowlist::names() const {
  std::vector<std::string> out;
  out.reserve(rules_.size());
  for (const auto& [name, rule] : rules_)
    out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace flotilla::net
