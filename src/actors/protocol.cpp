#include "actors/protocol.hpp"

namespace flotilla::actors {

void add_protocol_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<weight_blob>("flotilla::weight_blob");
  cfg.add_message_type<fit_result>("flotilla::fit_result");
  cfg.add_message_type<eval_result>("flotilla::eval_result");
  cfg.add_message_type<resource_report>("flotilla::resource_report");
  cfg.add_message_type<cluster_spec>("flotilla::cluster_spec");
  cfg.add_message_type<cluster_result>("flotilla::cluster_result");
  cfg.add_message_type<std::vector<caf::actor>>("std::vector<caf::actor>");
  cfg.add_message_type<std::vector<std::uint32_t>>("std::vector<uint32_t>");
}

} // namespace flotilla::actors
