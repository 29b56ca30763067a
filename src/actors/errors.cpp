#include "actors/errors.hpp"

namespace flotilla::actors {

caf::error make_error(errc code, std::string text) {
  return caf::error{static_cast<std::uint8_t>(code), errc_category, caf::make_message(std::move(text))};
}

std::optional<errc> code_of(const caf::error& e) {
  if (!e || e.category() != errc_category)
    return std::nullopt;
  return static_cast<errc>(e.code());
}

namespace {
std::string context_text(const caf::message& ctx) {
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return ctx.empty() ? std::string{} : to_string(ctx);
}
} // namespace

std::string text_of(caf::actor_system& sys, const caf::error& e) {
  if (code_of(e))
    return context_text(e.context());
  return sys.render(e);
}

caf::result<caf::message> drop_unexpected(caf::scheduled_actor*, caf::message_view&) {
  return caf::sec::unexpected_message;
}

void add_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(errc_category, [](std::uint8_t code, caf::atom_value, const caf::message& ctx) {
    auto text = context_text(ctx);
    return text.empty() ? "flotilla error " + std::to_string(code) : text;
  });
}

} // namespace flotilla::actors
