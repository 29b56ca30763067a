#include "actors/protocol.hpp"

#include "actors/errors.hpp"

namespace flotilla::actors {

void add_protocol_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<weight_blob>("flotilla::weight_blob");
  cfg.add_message_type<peer>("flotilla::peer");
  cfg.add_message_type<fit_ins>("flotilla::fit_ins");
  cfg.add_message_type<fit_result>("flotilla::fit_result");
  cfg.add_message_type<eval_result>("flotilla::eval_result");
  cfg.add_message_type<resource_report>("flotilla::resource_report");
  cfg.add_message_type<server_role>("flotilla::server_role");
  cfg.add_message_type<cluster_round_ins>("flotilla::cluster_round_ins");
  cfg.add_message_type<round_result>("flotilla::round_result");
  cfg.add_message_type<fl::fit_config>("flotilla::fit_config");
  cfg.add_message_type<fl::strategy_options>("flotilla::strategy_options");
  cfg.add_message_type<fl::strategy_state>("flotilla::strategy_state");
  cfg.add_message_type<fl::round_record>("flotilla::round_record");
  cfg.add_message_type<std::vector<caf::actor>>("std::vector<caf::actor>");
  cfg.add_message_type<std::vector<std::uint32_t>>("std::vector<uint32_t>");
  cfg.add_message_type<std::vector<double>>("std::vector<double>");
  add_error_category(cfg);
}

} // namespace flotilla::actors
