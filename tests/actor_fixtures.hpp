#pragma once
// What the tests under CAF's deterministic scheduler share: a config with Flotilla's message
// types, and the atom that tells a test actor to begin.
#include <caf/all.hpp>

#include "actors/protocol.hpp"

namespace flotilla::test {

struct protocol_config : caf::actor_system_config {
  protocol_config() { actors::add_protocol_types(*this); }
};

using start_atom = caf::atom_constant<caf::atom("start")>;

} // namespace flotilla::test
