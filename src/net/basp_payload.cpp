#include "net/basp_payload.hpp"

#include <caf/atom.hpp>

#include <algorithm>
#include <string_view>
#include <vector>

#include "net/basp_frame.hpp"

namespace flotilla::net {

namespace {

constexpr auto atom_none = static_cast<std::uint64_t>(caf::atom(""));
constexpr auto atom_default = static_cast<std::uint64_t>(caf::atom("default"));
constexpr auto atom_uri = static_cast<std::uint64_t>(caf::atom("uri"));
constexpr std::size_t host_id_size = 20; // node_id::default_data::host_id_size

/// Reads the payload front to back; any read past the available bytes stops it with `need`
/// set, any rule broken stops it with `why` set. Every method returns false once stopped.
class parser {
public:
  parser(const std::uint8_t* data, std::size_t available, std::size_t total, const message_allowlist& types,
         const payload_limits& limits)
      : p_(data), avail_(available), total_(total), types_(types), limits_(limits) {}

  bool stopped() const { return need_ != 0 || !why_.empty(); }
  std::size_t pos() const { return pos_; }

  bool refuse(std::string why) {
    if (!stopped())
      why_ = std::move(why);
    return false;
  }

  payload_verdict verdict() const {
    payload_verdict v;
    if (!why_.empty()) {
      v.result = payload_verdict::refuse;
      v.why = why_;
    } else if (need_ != 0) {
      if (need_ > total_) {
        v.result = payload_verdict::refuse;
        v.why = "the payload ends inside its leading structure";
      } else if (need_ > limits_.window) {
        v.result = payload_verdict::refuse;
        v.why = "its leading structure goes past the " + std::to_string(limits_.window) + " bytes the guard inspects";
      } else {
        v.result = payload_verdict::need_more;
        v.need = need_;
      }
    }
    return v;
  }

  bool skip(std::size_t n, const std::uint8_t** at = nullptr) {
    if (stopped())
      return false;
    if (n > avail_ - pos_) {
      need_ = pos_ + n; // n < 2^32: no overflow
      return false;
    }
    if (at)
      *at = p_ + pos_;
    pos_ += n;
    return true;
  }

  bool uint(int bytes, std::uint64_t& out) {
    const std::uint8_t* at = nullptr;
    if (!skip(static_cast<std::size_t>(bytes), &at))
      return false;
    out = 0;
    for (int i = 0; i < bytes; ++i)
      out = (out << 8) | at[i];
    return true;
  }

  /// CAF's begin_sequence: 7 bits a byte, low bits first, high bit set on all but the last;
  /// the value is a uint32_t, so at most 5 bytes.
  bool varint(std::uint64_t& out) {
    out = 0;
    for (int n = 0; n < 5; ++n) {
      const std::uint8_t* at = nullptr;
      if (!skip(1, &at))
        return false;
      out |= static_cast<std::uint64_t>(*at & 0x7f) << (7 * n);
      if ((*at & 0x80) == 0)
        return out <= 0xffffffffu || refuse("a length field larger than 32 bits");
    }
    return refuse("a length field longer than 5 bytes");
  }

  bool string(std::string_view& out, std::size_t max_len) {
    std::uint64_t len = 0;
    if (!varint(len))
      return false;
    if (len > max_len)
      return refuse("a type name of " + std::to_string(len) + " bytes (at most " + std::to_string(max_len) + ")");
    const std::uint8_t* at = nullptr;
    if (!skip(static_cast<std::size_t>(len), &at))
      return false;
    out = std::string_view(reinterpret_cast<const char*>(at), static_cast<std::size_t>(len));
    return true;
  }

  bool skip_string() {
    std::uint64_t len = 0;
    return varint(len) && skip(static_cast<std::size_t>(len));
  }

  /// `require_node`: an empty node id (atom("")) is refused too.
  bool node_id(bool require_node = false) {
    std::uint64_t kind = 0;
    if (!uint(8, kind))
      return false;
    if (kind == atom_default)
      return skip(4 + host_id_size);
    if (kind == atom_none)
      return !require_node || refuse("an empty node id");
    if (kind == atom_uri)
      return refuse("a URI node id (CAF 0.17.6 BASP only sends default node ids)");
    return refuse("a node id of unknown kind");
  }

  bool actor() {
    std::uint64_t aid = 0;
    return uint(8, aid) && node_id();
  }

  /// The message header: the type number (0) and the element names, each checked against
  /// the allowlist. `context`: an error's context, whose elements must be flat.
  bool message_types(std::vector<const element_rule*>& rules, std::vector<std::string_view>& names, bool context) {
    std::uint64_t nr = 0;
    if (!uint(2, nr))
      return false;
    if (nr != 0)
      return refuse("a message with type number " + std::to_string(nr) + " (CAF writes 0)");
    std::string_view name;
    if (!string(name, limits_.max_type_name))
      return false;
    if (name == "@<>")
      return true;
    constexpr std::string_view prefix = "@<>+";
    if (name.substr(0, prefix.size()) != prefix)
      return refuse("a message type name not starting with @<>+");
    auto rest = name.substr(prefix.size());
    for (;;) {
      auto plus = rest.find('+');
      auto element = rest.substr(0, plus);
      auto* rule = types_.find(element);
      if (rule == nullptr)
        return refuse(std::string(context ? "an error context with element type " : "element type ") +
                      (element.empty() ? "(empty)" : std::string(element)) + ", which the guard does not allow");
      if (context && rule->kind != element_kind::fixed && rule->kind != element_kind::string)
        return refuse("an error context holding " + std::string(element) + " (only flat values are allowed there)");
      rules.push_back(rule);
      names.push_back(element);
      if (rules.size() > limits_.max_elements)
        return refuse("a message of more than " + std::to_string(limits_.max_elements) + " elements");
      if (plus == std::string_view::npos)
        return true;
      rest = rest.substr(plus + 1);
    }
  }

  /// An error: code, category, and a context message of flat elements (not walked: flat
  /// values cannot nest, and their lengths are checked by CAF against the bytes present).
  bool error() {
    std::uint64_t code = 0, category = 0;
    if (!uint(1, code) || !uint(8, category))
      return false;
    std::vector<const element_rule*> rules;
    std::vector<std::string_view> names;
    return message_types(rules, names, /*context=*/true);
  }

  /// A whole message: the element types, then the elements as far as one of them still needs
  /// a look at its value (an error's context, a string list's length).
  bool message() {
    std::vector<const element_rule*> rules;
    std::vector<std::string_view> names;
    if (!message_types(rules, names, /*context=*/false))
      return false;
    // CAF's remote_message_handler takes any (atom, strong_actor_ptr) message for a link or
    // unlink request of a remote actor and links the named actor, local or not, to the
    // receiver, whatever the atom's sender may do. Flotilla links no actors across nodes.
    if (names.size() == 2 && names[0] == "@atom" && names[1] == "@strong_actor_ptr")
      return refuse("an (@atom, @strong_actor_ptr) message, which CAF takes for a remote link or unlink");
    std::size_t last_checked = rules.size(); // index of the last element whose value needs a look
    for (std::size_t i = 0; i < rules.size(); ++i) {
      auto kind = rules[i]->kind;
      if (kind == element_kind::error && rules.size() != 1)
        return refuse("an error inside a message of " + std::to_string(rules.size()) +
                      " elements (an error may only be the whole message)");
      if (kind == element_kind::error || kind == element_kind::string_list)
        last_checked = i;
    }
    if (last_checked == rules.size())
      return true;
    if (rules[0]->kind == element_kind::error && total_ > limits_.max_error_bytes)
      return refuse("an error message of " + std::to_string(total_) + " bytes (at most " +
                    std::to_string(limits_.max_error_bytes) + ")");
    for (std::size_t i = 0; i <= last_checked; ++i) {
      switch (rules[i]->kind) {
        case element_kind::fixed:
          if (!skip(rules[i]->size))
            return false;
          break;
        case element_kind::string:
          if (!skip_string())
            return false;
          break;
        case element_kind::actor:
          if (!actor())
            return false;
          break;
        case element_kind::error:
          if (!error())
            return false;
          break;
        case element_kind::string_list: {
          std::uint64_t n = 0;
          if (!varint(n))
            return false;
          if (n > types_.max_string_list)
            return refuse("a " + std::string(names[i]) + " of " + std::to_string(n) + " strings (at most " +
                          std::to_string(types_.max_string_list) + ")");
          if (i < last_checked)
            for (std::uint64_t k = 0; k < n; ++k)
              if (!skip_string())
                return false;
          break;
        }
        case element_kind::opaque:
          return refuse("a " + std::string(names[last_checked]) + " after " + std::string(names[i]) +
                        ", whose size the guard cannot tell");
      }
    }
    return true;
  }

  bool direct_message() {
    std::uint64_t stages = 0;
    if (!varint(stages))
      return false;
    if (stages > limits_.max_stages)
      return refuse("a forwarding stack of " + std::to_string(stages) + " entries (at most " +
                    std::to_string(limits_.max_stages) + ")");
    for (std::uint64_t i = 0; i < stages; ++i)
      if (!actor())
        return false;
    return message();
  }

  /// The payload must end where its structure does (CAF writes nothing after it).
  bool exact() {
    if (stopped())
      return false;
    return pos_ == total_ || refuse("payload of " + std::to_string(total_) + " bytes where CAF writes " +
                                    std::to_string(pos_));
  }

private:
  const std::uint8_t* p_;
  std::size_t avail_;
  std::size_t total_;
  const message_allowlist& types_;
  const payload_limits& limits_;
  std::size_t pos_ = 0;
  std::size_t need_ = 0;
  std::string why_;
};

} // namespace

payload_verdict check_payload(std::uint8_t operation, const std::uint8_t* data, std::size_t available,
                              std::size_t payload_len, const message_allowlist& types, const payload_limits& limits) {
  // Never more than the window, however much has arrived: the verdict must not depend on how
  // the bytes were split.
  available = std::min({available, payload_len, limits.window});
  parser p{data, available, payload_len, types, limits};
  switch (static_cast<basp_operation>(operation)) {
    case basp_operation::client_handshake:
      (void)(p.node_id(/*require_node=*/true) && p.exact());
      break;
    case basp_operation::routed_message:
      (void)(p.node_id() && p.node_id() && p.direct_message());
      break;
    case basp_operation::direct_message:
      p.direct_message();
      break;
    case basp_operation::monitor_message:
      (void)(p.node_id() && p.node_id() && p.exact());
      break;
    case basp_operation::down_message:
      if (payload_len > limits.max_error_bytes)
        p.refuse("a down message of " + std::to_string(payload_len) + " bytes (at most " +
                 std::to_string(limits.max_error_bytes) + ")");
      else
        (void)(p.node_id() && p.node_id() && p.error());
      break;
    default:
      break; // server handshakes never pass the header check; heartbeats have no payload
  }
  return p.verdict();
}

} // namespace flotilla::net
