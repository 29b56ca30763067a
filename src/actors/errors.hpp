#pragma once
// Errors between actors: a code (what class of failure, which decides the exit code when the
// run cannot go on) and a text (what happened, what to do), registered as CAF's "flotilla"
// error category so they cross nodes and render as their text.
#include <caf/all.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace flotilla::actors {

enum class errc : std::uint8_t {
  model_error = 1,       ///< training diverged or the weights do not fit the model
  training_failed,       ///< a training or evaluation job threw for another reason
  unknown_client,        ///< a request named a client this node does not host
  bad_update,            ///< an update was refused (wrong size, NaN, diverged weights)
  data_error,            ///< a node's dataset is missing, corrupt or differs
  config_error,          ///< a node cannot use the configuration it was sent
  node_busy,             ///< a node already serves another coordinator's run
  not_owner,             ///< a request from someone other than the run's coordinator
  injected_fault,        ///< a fault the configuration asked for
  round_failed,          ///< a round could not aggregate (quorum missed, strategy refused)
  internal_error,        ///< an actor threw (out of memory, a bug): the run ends, exit 1
};

/// The category atom of errc errors.
inline constexpr caf::atom_value errc_category = caf::atom("flotilla");

/// An errc error with its text.
caf::error make_error(errc code, std::string text);

/// The code of an error of this category, or nullopt for any other error (timeouts, DOWN...).
std::optional<errc> code_of(const caf::error& e);

/// The text of an error: ours as written, CAF's as the system renders them.
std::string text_of(caf::actor_system& sys, const caf::error& e);

/// The default handler of every Flotilla actor: an unexpected message is answered with
/// unexpected_message and dropped without printing it (CAF's default prints the whole message:
/// megabytes of text from one hostile message).
caf::result<caf::message> drop_unexpected(caf::scheduled_actor* self, caf::message_view& msg);

/// Registers the category's renderer; call on every actor system's config.
void add_error_category(caf::actor_system_config& cfg);

} // namespace flotilla::actors
