#pragma once
#include <caf/all.hpp>

#include <string>
#include <vector>

namespace flotilla::runtime {

/// Where `flotilla node --join` reaches a running coordinator (published behind a guard on
/// runtime.listen): a joining node's manager is asked to host the late clients no one hosts
/// yet, and their actors go to the coordinator (arrived_atom). Each joiner gets what is left; a
/// node that comes when nothing is left is refused.
caf::behavior join_desk(caf::event_based_actor* self, caf::actor coordinator, std::string config_json,
                        std::vector<std::uint32_t> late_ids, std::string fingerprint, std::string registrar_key);

} // namespace flotilla::runtime
