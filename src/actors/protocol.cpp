#include "actors/protocol.hpp"

#include "actors/errors.hpp"
#include "common/message_type_names.hpp"

namespace flotilla::actors {

void add_protocol_types(caf::actor_system_config& cfg) {
  // Every entry of the one list (src/common/message_type_names.hpp), which the guard's
  // allowlist reads too: cfg.add_message_type<type>("name").
#define FLOTILLA_REGISTER_MESSAGE_TYPE_(type, name) cfg.add_message_type<type>(name);
  FLOTILLA_MESSAGE_TYPES(FLOTILLA_REGISTER_MESSAGE_TYPE_)
#undef FLOTILLA_REGISTER_MESSAGE_TYPE_
  add_error_category(cfg);
}

} // namespace flotilla::actors
