#include "actors/protocol.hpp"

#include "actors/errors.hpp"
#include "common/message_type_names.hpp"
#include <stdexcept>
#include <string>

namespace flotilla::actors {

registration_wire registration_wire::of(const std::vector<std::uint8_t>& signature) {
  registration_wire w;
  if (signature.empty())
    return w;
  if (signature.size() != 64)
    throw std::invalid_argument("a model registration is 64 bytes, not " + std::to_string(signature.size()));
  w.present = true;
  for (std::size_t i = 0; i < 64; ++i)
    w.words[i / 8] |= std::uint64_t{signature[i]} << (8 * (i % 8));
  return w;
}

std::vector<std::uint8_t> registration_wire::bytes() const {
  if (!present)
    return {};
  std::vector<std::uint8_t> out(64);
  for (std::size_t i = 0; i < 64; ++i)
    out[i] = static_cast<std::uint8_t>(words[i / 8] >> (8 * (i % 8)));
  return out;
}

void add_protocol_types(caf::actor_system_config& cfg) {
  // Every entry of the one list (src/common/message_type_names.hpp), which the guard's
  // allowlist reads too: cfg.add_message_type<type>("name").
#define FLOTILLA_REGISTER_MESSAGE_TYPE_(type, name) cfg.add_message_type<type>(name);
  FLOTILLA_MESSAGE_TYPES(FLOTILLA_REGISTER_MESSAGE_TYPE_)
#undef FLOTILLA_REGISTER_MESSAGE_TYPE_
  add_error_category(cfg);
}

} // namespace flotilla::actors
