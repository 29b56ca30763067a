#pragma once
// The element types the guard lets reach CAF inside a message: an allowlist of what Flotilla
// actually exchanges. CAF 0.17.6 deserializes any type it knows by name (all its builtins and
// everything add_message_type registered), and several builtins have unbounded load paths: a
// @message or an @error context nested in itself recurses until the stack overflows, @charbuf
// is resized to its claimed length before the bytes are checked, @strvec turns each 1-byte
// empty string into a 32-byte std::string. A peer that finished the BASP handshake could send
// any of them; the guard refuses every message whose element types are not listed here.
//
// The protocol types come from the one list src/actors/protocol.cpp registers from,
// FLOTILLA_MESSAGE_TYPES in src/common/message_type_names.hpp (names only here: net never
// includes actor or CAF-typed protocol code). add_message_type<T>("name") registers "name",
// "std::vector<name>" and "stream<name>"; the guard allows "name" and its vector, and refuses
// the stream (Flotilla streams nothing). tests/unit-message-allowlist.cpp checks that what an
// actor system registers is exactly what the list implies, and a new builtin type in a message
// (say a std::set<std::string>) shows there as refused.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace flotilla::net {

/// How the guard treats an allowed element type.
enum class element_kind : std::uint8_t {
  fixed,       ///< integer, float, double, bool, atom: `size` bytes on the wire
  string,      ///< @str: a varint length, then the bytes
  actor,       ///< @actor, @addr: actor id (8 bytes) and a node id
  string_list, ///< @strvec: allowed with at most max_string_list entries
  error,       ///< @error: only as the whole message, its context flat (fixed and string only)
  opaque,      ///< Flotilla's own types and vectors of them: their inspectors bound themselves
};

/// The rule for one allowed type name.
struct element_rule {
  element_kind kind = element_kind::opaque;
  std::uint8_t size = 0; ///< bytes of a fixed element
};

/// Type names the guard lets through, with how each is checked.
class message_allowlist {
public:
  /// What Flotilla exchanges: the protocol types and their vectors, the CAF builtins its
  /// messages carry, and errors. The default of guard_options.
  static message_allowlist flotilla();
  /// Nothing at all (tests build their own).
  message_allowlist() = default;

  /// Adds (or replaces) a type name.
  message_allowlist& allow(std::string name, element_rule rule);
  /// Adds an opaque type name (an actor published behind a guard that takes other types).
  message_allowlist& allow_opaque(std::string name) { return allow(std::move(name), {element_kind::opaque, 0}); }
  /// The rule of `name`, or nullptr when it is not allowed.
  const element_rule* find(std::string_view name) const;
  /// The allowed names, sorted (for tests and messages).
  std::vector<std::string> names() const;

  std::size_t max_string_list = 4096; ///< most entries of an allowed @strvec (link_atom: peer nodes)

private:
  std::unordered_map<std::string, element_rule> rules_;
};

/// The names src/actors/protocol.cpp registers with add_message_type (each also registers its
/// std::vector and stream): flotilla::message_type_names, the list both read.
const std::vector<std::string>& flotilla_protocol_types();

/// True for names add_message_type registers that the guard refuses on purpose: streams
/// ("stream<...>") and vectors of vectors ("std::vector<std::vector<...>>": nothing sends them,
/// and each empty inner vector costs 1 wire byte but 24 bytes of memory).
bool registered_but_refused(std::string_view name);

} // namespace flotilla::net
