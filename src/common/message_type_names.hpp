#pragma once
// The one list of Flotilla's message types: each C++ type with the name CAF registers it under
// and writes on the wire. Both sides read it:
//   - src/actors/protocol.cpp, add_protocol_types: cfg.add_message_type<type>(name) for each
//     entry (the only place the type part is expanded);
//   - src/net/message_types.cpp, message_allowlist::flotilla(): the guard allows each name and
//     its std::vector (message_type_names below, names only: net never sees an actor type).
// Adding a message type is one line here (plus its struct and inspector in
// src/actors/protocol.hpp). The names are the wire format: renaming one breaks interop with
// nodes of earlier versions. Keep this header free of CAF and actor includes; the type
// part is a token sequence resolved in namespace flotilla::actors (protocol.cpp), no commas.
#include <array>
#include <cstddef>
#include <string_view>

// X(type, "wire name"), in registration order.
#define FLOTILLA_MESSAGE_TYPES(X)                                                                                      \
  X(weight_blob, "flotilla::weight_blob")                                                                              \
  X(blob_chunk, "flotilla::blob_chunk")                                                                                \
  X(peer, "flotilla::peer")                                                                                            \
  X(fit_ins, "flotilla::fit_ins")                                                                                      \
  X(fit_result, "flotilla::fit_result")                                                                                \
  X(eval_result, "flotilla::eval_result")                                                                              \
  X(resource_report, "flotilla::resource_report")                                                                      \
  X(server_role, "flotilla::server_role")                                                                              \
  X(cluster_round_ins, "flotilla::cluster_round_ins")                                                                  \
  X(round_result, "flotilla::round_result")                                                                            \
  X(secagg_msg, "flotilla::secagg_msg")                                                                                \
  X(fl::fit_config, "flotilla::fit_config")                                                                            \
  X(fl::strategy_options, "flotilla::strategy_options")                                                                \
  X(fl::strategy_state, "flotilla::strategy_state")                                                                    \
  X(fl::round_record, "flotilla::round_record")                                                                        \
  /* a CAF builtin: travels as @actorvec; the name is registered all the same */                                     \
  X(std::vector<caf::actor>, "std::vector<caf::actor>")                                                                \
  X(std::vector<std::uint32_t>, "std::vector<uint32_t>")                                                               \
  X(std::vector<double>, "std::vector<double>")

namespace flotilla {

#define FLOTILLA_MESSAGE_TYPE_NAME_(type, name) std::string_view{name},
/// The wire names of FLOTILLA_MESSAGE_TYPES, in its order.
inline constexpr std::array message_type_names{FLOTILLA_MESSAGE_TYPES(FLOTILLA_MESSAGE_TYPE_NAME_)};
#undef FLOTILLA_MESSAGE_TYPE_NAME_

namespace detail {

template <std::size_t N>
constexpr bool all_distinct(const std::array<std::string_view, N>& names) {
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = i + 1; j < N; ++j)
      if (names[i] == names[j])
        return false;
  return true;
}

} // namespace detail

static_assert(detail::all_distinct(message_type_names), "FLOTILLA_MESSAGE_TYPES names a wire name twice");

} // namespace flotilla
