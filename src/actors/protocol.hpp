#pragma once
// Every message Flotilla actors exchange: atoms, message types and their inspectors, in one
// place. All types are serializable, so a run moves the same messages in one process and
// across nodes. Deserializers never trust a length field: every size is checked against the
// bytes actually present before anything is allocated.
#include <caf/all.hpp>

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/weight_blob.hpp"
#include "fl/async_aggregation.hpp"
#include "fl/record_fields.hpp"
#include "fl/run_report.hpp"
#include "fl/strategy.hpp"

namespace flotilla::actors {

// Client requests (answered with the type after the arrow).
using fit_atom = caf::atom_constant<caf::atom("fit")>;            // fit_ins -> fit_result
using evaluate_atom = caf::atom_constant<caf::atom("evaluate")>;  // weight_blob -> eval_result
using resources_atom = caf::atom_constant<caf::atom("resources")>; // -> resource_report
using fault_atom = caf::atom_constant<caf::atom("fault")>;        // kind, seconds (no answer)
using ping_atom = caf::atom_constant<caf::atom("ping")>;          // -> ping (liveness, actors/liveness.hpp)
using losses_atom = caf::atom_constant<caf::atom("losses")>;      // models -> loss of each on its train split
using restore_atom = caf::atom_constant<caf::atom("restore")>;    // step, trained -> restore (FedBN resume)
// Server role (a promoted client).
using promote_atom = caf::atom_constant<caf::atom("promote")>;    // server_role -> client id
using demote_atom = caf::atom_constant<caf::atom("demote")>;      // (no answer)
using cluster_round_atom = caf::atom_constant<caf::atom("clround")>; // cluster_round_ins -> round_result
// Secure aggregation (privacy.secure_aggregation): one protocol step, aggregator -> member.
using secagg_atom = caf::atom_constant<caf::atom("secagg")>;      // secagg_msg -> secagg_msg
// Coordinator.
using run_atom = caf::atom_constant<caf::atom("run")>;            // -> ok (report via observer)
using next_atom = caf::atom_constant<caf::atom("next")>;          // internal: round -> next step of a phase (one shape)
// Node manager (flotilla node).
using setup_atom = caf::atom_constant<caf::atom("setup")>;       // config, ids, fingerprint, registrar key -> clients
using teardown_atom = caf::atom_constant<caf::atom("teardown")>; // -> number of clients dropped
using link_atom = caf::atom_constant<caf::atom("link")>;         // peer node addresses -> links made
using join_atom = caf::atom_constant<caf::atom("join")>;         // node manager -> clients hosted (join desk)
using arrived_atom = caf::atom_constant<caf::atom("arrived")>;   // late clients' peers (to the coordinator)
// Blob server (one per process, blob_transfer.hpp).
using chunk_atom = caf::atom_constant<caf::atom("chunk")>;       // id, offset, count -> blob_chunk
using unshare_atom = caf::atom_constant<caf::atom("unshare")>;   // id (no answer): the receiver is done

/// Client id meaning "the node's own test set" in evaluation requests to a trainer pool.
constexpr std::uint32_t test_set = std::numeric_limits<std::uint32_t>::max();

/// The most failure reasons one round record may carry from the wire (one per failed client).
constexpr std::size_t max_failure_reasons = std::size_t{1} << 16;

struct fit_ins;
struct fit_result;
struct eval_result;
struct resource_report;
struct server_role;
struct cluster_round_ins;
struct round_result;
struct secagg_msg;

/// What anyone may ask a client (actors/client.hpp): its typed handle, so a request of the wrong
/// shape or a wrong answer type does not compile. Server-role requests are in it too: a client
/// that does not serve answers a cluster round with an error.
using client_handle =
  caf::typed_actor<caf::replies_to<fit_atom, fit_ins>::with<fit_result>,
                   caf::replies_to<evaluate_atom, weight_blob>::with<eval_result>,
                   caf::replies_to<losses_atom, std::vector<weight_blob>>::with<std::vector<double>>,
                   caf::replies_to<resources_atom>::with<resource_report>,
                   caf::reacts_to<fault_atom, std::string, double>,
                   caf::replies_to<ping_atom>::with<ping_atom>,
                   caf::replies_to<restore_atom, std::uint64_t, bool>::with<restore_atom>,
                   caf::replies_to<promote_atom, server_role>::with<std::uint32_t>,
                   caf::replies_to<cluster_round_atom, cluster_round_ins>::with<round_result>,
                   caf::replies_to<secagg_atom, secagg_msg>::with<secagg_msg>,
                   caf::reacts_to<demote_atom>>;

/// A participant: its client id and its actor (local, or a proxy of a remote one).
struct peer {
  std::uint32_t id = 0;
  client_handle handle;

  peer() = default;
  peer(std::uint32_t client, client_handle h) : id(client), handle(std::move(h)) {}
  /// A handle as a node reports its clients (dynamically typed on the wire): a client's.
  peer(std::uint32_t client, const caf::actor& h) : id(client), handle(caf::actor_cast<client_handle>(h)) {}
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer& x) {
  return f(caf::meta::type_name("flotilla::peer"), x.id, x.handle);
}

/// fl::async_state on the wire: the models as blobs (a large one crosses nodes as a reference,
/// fetched by the receiver), each with its version.
struct async_wire {
  std::uint64_t draws = 0;
  std::vector<fl::in_flight::fit> flights;
  std::vector<std::uint64_t> version_ids;
  std::vector<weight_blob> versions;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, async_wire& x) {
  return f(caf::meta::type_name("flotilla::async_wire"), x.draws, x.flights, x.version_ids, x.versions);
}

/// A fit request: the model to start from and the round's fit configuration.
/// The coordinator's 64-byte model registration (fl/secagg/model_registry) on the wire: eight
/// fixed words, so hostile bytes cannot make a receiver allocate for it (a byte vector's length
/// would be read from the sender).
struct registration_wire {
  bool present = false;
  std::uint64_t words[8] = {};
  /// 64 bytes, or empty for none; any other size throws std::invalid_argument.
  static registration_wire of(const std::vector<std::uint8_t>& signature);
  std::vector<std::uint8_t> bytes() const; ///< the 64 bytes, or empty when not present
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registration_wire& x) {
  return f(caf::meta::type_name("flotilla::registration_wire"), x.present, x.words[0], x.words[1], x.words[2],
           x.words[3], x.words[4], x.words[5], x.words[6], x.words[7]);
}

struct fit_ins {
  fl::fit_config config;
  weight_blob weights;
  /// FedBN (model.buffers=local): the round's place in the run (fl::layer_step) and that of the
  /// last checkpoint written, which the client's layer history keeps its versions by.
  std::uint64_t step = 0;
  std::uint64_t durable = 0;
  /// privacy.secure_aggregation: the round's session (0: a plain fit). The member keeps its
  /// update, answers with no weights, and takes part in the session's secagg_msg steps.
  std::uint64_t secure_session = 0;
  bool secure_uniform = false; ///< privacy.dp: the member's update counts once, not by its samples
  /// privacy.dp=distributed: the stddev of the noise share the member adds before masking (0:
  /// none), drawn from the stream of (run seed, noise_point, noise_round, its id).
  double secure_noise = 0;
  std::uint32_t noise_point = 0, noise_round = 0;
  /// privacy.dp: the L2 norm the update is clipped to this round (0: the node's privacy.clip).
  double dp_clip = 0;
  /// privacy.adaptive_clip: the member says whether its update fit within dp_clip
  /// (fit_result::within_clip; in a secure fit, one more value in its masked input instead), and
  /// with distributed noise adds a share of stddev count_noise to that value.
  bool report_clip = false;
  double count_noise = 0;
  /// A secure fit: the coordinator's Ed25519 signature of (secure_session, SHA-256 of `weights`)
  /// (fl/secagg/model_registry), which the member verifies with the coordinator's key before it
  /// masks anything: an aggregator cannot send members models other than the registered one.
  registration_wire model_registration;
  /// strategy.mode=buffered under secure aggregation (0: not buffered): the member holds its
  /// update under (secure_session, secure_ticket) until a server step commits it
  /// (secure_sessions::hold, commit_stage).
  std::uint64_t secure_ticket = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fit_ins& x) {
  return f(caf::meta::type_name("flotilla::fit_ins"), x.config, x.weights, x.step, x.durable, x.secure_session,
           x.secure_uniform, x.secure_noise, x.noise_point, x.noise_round, x.dp_clip,
           x.report_clip, x.count_noise, x.model_registration, x.secure_ticket);
}

/// The most bytes one secure aggregation message may carry (a masked input of a model of
/// 2^23 weights at 64 bits; privacy.secure_aggregation refuses larger models).
constexpr std::size_t max_secagg_bytes = std::size_t{64} << 20;

/// One secure aggregation step (fl/secagg/protocol.hpp): the session (fit_ins::secure_session),
/// the stage (0 round_setup -> advertise_keys, 1 key_list -> share_keys, 2 routed_shares ->
/// masked_input, 3 unmask_request -> unmask_response) and the message's bytes, which the
/// receiver decodes as hostile.
struct secagg_msg {
  std::uint64_t session = 0;
  std::uint8_t stage = 0;
  std::vector<std::uint8_t> bytes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, secagg_msg& x) {
  if constexpr (std::is_base_of<caf::serializer, Inspector>::value) {
    if (auto err = f(x.session, x.stage, static_cast<std::uint64_t>(x.bytes.size())))
      return err;
    return x.bytes.empty() ? caf::none : f.apply_raw(x.bytes.size(), x.bytes.data());
  } else if constexpr (std::is_base_of<caf::deserializer, Inspector>::value) {
    std::uint64_t n = 0;
    if (auto err = f(x.session, x.stage, n))
      return err;
    if (n > max_secagg_bytes || n > detail::remaining_bytes(f))
      return caf::make_error(caf::sec::invalid_argument, "a secure aggregation message of " + std::to_string(n) +
                                                           " bytes exceeds the message or the limit");
    x.bytes.resize(static_cast<std::size_t>(n));
    return n == 0 ? caf::none : f.apply_raw(x.bytes.size(), x.bytes.data());
  } else {
    auto n = static_cast<std::uint64_t>(x.bytes.size()); // to_string and logging: the size only
    return f(caf::meta::type_name("flotilla::secagg_msg"), x.session, x.stage, n);
  }
}

/// A client's answer to fit: its new weights and what the training measured.
struct fit_result {
  std::uint32_t client_id = 0;
  std::uint32_t round = 0;
  std::uint64_t samples = 0; ///< training samples (the FedAvg weight)
  double train_loss = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  weight_blob weights;
  double sim_delay_s = 0; ///< clock=virtual: an injected `slow` delay, simulated instead of slept
  /// A secure fit (fit_ins::secure_session): no weights; the bit length of the largest
  /// |value| of the member's masked contribution (what the aggregator sizes its ring by).
  std::uint8_t secure_bits = 0;
  /// fit_ins::report_clip in a fit in the clear: the update's norm was within the round's clip.
  bool within_clip = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fit_result& x) {
  return f(caf::meta::type_name("flotilla::fit_result"), x.client_id, x.round, x.samples, x.train_loss, x.seconds,
           x.cpu_seconds, x.weights, x.sim_delay_s, x.secure_bits,
           x.within_clip);
}

/// An evaluation on a client's local test split (or a node's test set).
struct eval_result {
  std::uint32_t client_id = 0;
  std::uint64_t samples = 0;
  double loss = 0;
  double accuracy = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, eval_result& x) {
  return f(caf::meta::type_name("flotilla::eval_result"), x.client_id, x.samples, x.loss, x.accuracy);
}

/// What a client measured of itself and its host, and the seed rule's cpu% and mem%.
struct resource_report {
  std::uint32_t client_id = 0;
  double host_cpu = 0;        ///< host CPU busy %, /proc/stat, since the previous reading
  double host_mem = 0;        ///< host memory in use %, /proc/meminfo
  double own_cpu_seconds = 0; ///< CPU time of this client's trainings so far
  double window_seconds = 0;  ///< wall time since its first training
  std::uint64_t own_bytes = 0; ///< its data + model + optimizer footprint
  std::uint32_t host_cores = 1;
  bool profiled = false;      ///< a device profile replaced the host's standing load
  double cpu = 0;             ///< the score's CPU %
  double mem = 0;             ///< the score's memory %
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resource_report& x) {
  return f(caf::meta::type_name("flotilla::resource_report"), x.client_id, x.host_cpu, x.host_mem,
           x.own_cpu_seconds, x.window_seconds, x.own_bytes, x.host_cores, x.profiled, x.cpu, x.mem);
}

/// What a promoted client needs to serve its cluster: the cluster's model and strategy state
/// (a new server after an election continues where the last one stopped) and the round rules.
struct server_role {
  std::uint32_t cluster = 0;
  std::uint32_t term = 0;                ///< elections so far + 1
  fl::strategy_options strategy;
  fl::strategy_state state;
  weight_blob model;
  std::uint64_t seed = 0;                ///< run seed (participant samples, shuffles)
  double fraction_fit = 0;
  double quorum = 0;
  double timeout_s = 0;
  bool cfl = false;                      ///< check CFL's split criterion after every round
  double cfl_eps1 = 0, cfl_eps2 = 0;
  std::uint32_t cfl_min_size = 0;
  double stragglers = 0;                 ///< rounds.stragglers (round_inputs)
  bool keep_stragglers = false;
  std::uint32_t epochs = 1;
  /// strategy.mode=buffered|async: each cluster round is one server step of the asynchronous
  /// engine (actors/async_steps), evaluated as rounds.eval_every says (rounds: rounds.cluster).
  fl::async_options async;
  std::uint32_t eval_every = 1, rounds = 0;
  async_wire in_flight;                  ///< the cluster's fits in flight after its last round
  bool secure = false;                   ///< privacy.secure_aggregation
  std::uint32_t min_cluster = 3;         ///< privacy.min_cluster
  /// privacy.dp: the server adds N(0, (sigma C)^2) to its members' clipped updates' sum (0: no DP).
  double dp_sigma = 0, dp_clip = 0;
  bool dp_distributed = false; ///< privacy.dp=distributed: the members add it, in shares, before masking
  bool dp_adaptive = false;    ///< privacy.adaptive_clip: each round's C comes with cluster_round_ins
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, server_role& x) {
  return f(caf::meta::type_name("flotilla::server_role"), x.cluster, x.term, x.strategy, x.state, x.model, x.seed,
           x.fraction_fit, x.quorum, x.timeout_s, x.cfl, x.cfl_eps1, x.cfl_eps2, x.cfl_min_size, x.stragglers,
           x.keep_stragglers, x.epochs, x.async, x.eval_every, x.rounds, x.in_flight, x.secure, x.min_cluster,
           x.dp_sigma, x.dp_clip, x.dp_distributed, x.dp_adaptive);
}

/// strategy.mode=buffered under secure aggregation: the coordinator's registration of a model
/// version a cluster server may send fits at (fit_ins::model_registration).
struct version_registration {
  std::uint64_t version = 0;
  registration_wire registration;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, version_registration& x) {
  return f(caf::meta::type_name("flotilla::version_registration"), x.version, x.registration);
}

/// One cluster round: its number and who the members are this round (membership may change
/// between rounds: elections, late joiners, IFCA).
struct cluster_round_ins {
  std::uint32_t round = 0;
  std::vector<peer> members; ///< sorted by id; includes the server itself
  std::uint64_t durable = 0; ///< the last checkpoint's fl::layer_step (fit_ins::durable)
  double sim_start = 0;      ///< clock=virtual: the cluster's clock when the round starts
  double sim_deadline_s = 0; ///< clock=virtual: rounds.timeout_s, simulated
  double dp_clip = 0;        ///< privacy.adaptive_clip: the cluster's clip norm this round (0: the role's)
  /// privacy.secure_aggregation: the coordinator's signature of this round's session and the
  /// cluster model it holds for it (fit_ins::model_registration), passed on to the members.
  registration_wire model_registration;
  /// strategy.mode=buffered: the registrations of the step's model (version round - 1) and of the
  /// versions its fits in flight were sent (at most strategy.concurrency + 1).
  std::vector<version_registration> versions;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_round_ins& x) {
  return f(caf::meta::type_name("flotilla::cluster_round_ins"), x.round, x.members, x.durable, x.sim_start,
           x.sim_deadline_s, x.dp_clip, x.model_registration, x.versions);
}

/// One round as its aggregation point reports it: the record, the model after it and the
/// strategy's state (the coordinator keeps both, to hand the cluster to a new server).
struct round_result {
  fl::round_record record;
  weight_blob model;
  fl::strategy_state state;
  caf::actor_addr aggregator;             ///< the actor that aggregated: the promoted client itself
  std::vector<std::uint32_t> split_off;   ///< CFL: members proposed for a new cluster (empty: none)
  async_wire in_flight;                   ///< strategy.mode=buffered|async: the fits in flight after the step
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, round_result& x) {
  return f(caf::meta::type_name("flotilla::round_result"), x.record, x.model, x.state, x.aggregator, x.split_off,
           x.in_flight);
}

/// Registers every type above and the error category; call on every actor system's config,
/// on every node.
void add_protocol_types(caf::actor_system_config& cfg);

} // namespace flotilla::actors

// Inspectors of the plain fl types that travel inside messages (found by ADL in their namespace).
namespace flotilla::fl {

namespace detail {

/// The most entries a named-value map (strategy knobs, fit config values) may have on the wire,
/// and the longest name: far above what any strategy declares, far below what costs memory.
constexpr std::size_t max_wire_knobs = 64;
constexpr std::size_t max_wire_knob_name = 64;

// A map of named numbers as a sequence of (name, value) pairs. Read from the network it is
// bounded first: at most max_wire_knobs entries, names of 1 to max_wire_knob_name characters,
// each name once.
template <class Inspector>
caf::error knob_map(Inspector& f, std::map<std::string, double>& x, const char* what) {
  if constexpr (std::is_base_of<caf::serializer, Inspector>::value) {
    auto n = x.size();
    if (auto err = f.begin_sequence(n))
      return err;
    for (auto& [key, value] : x) {
      auto k = key;
      if (auto err = f(k, value))
        return err;
    }
    return f.end_sequence();
  } else {
    std::size_t n = 0;
    if (auto err = f.begin_sequence(n))
      return err;
    if (n > max_wire_knobs || n > actors::detail::remaining_bytes(f))
      return caf::make_error(caf::sec::invalid_argument,
                             std::string(what) + " with " + std::to_string(n) + " entries (at most " +
                               std::to_string(max_wire_knobs) + ")");
    x.clear();
    for (std::size_t i = 0; i < n; ++i) {
      std::string key;
      double value = 0;
      if (auto err = f(key, value))
        return err;
      if (key.empty() || key.size() > max_wire_knob_name)
        return caf::make_error(caf::sec::invalid_argument, std::string(what) + " with a name of " +
                                                             std::to_string(key.size()) + " characters (1 to " +
                                                             std::to_string(max_wire_knob_name) + ")");
      if (!x.emplace(std::move(key), value).second)
        return caf::make_error(caf::sec::invalid_argument, std::string(what) + " names a value twice");
    }
    return f.end_sequence();
  }
}

} // namespace detail

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, in_flight::fit& x) {
  return f(caf::meta::type_name("flotilla::fl::in_flight_fit"), x.client, x.version, x.done);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, async_options& x) {
  return f(caf::meta::type_name("flotilla::fl::async_options"), x.mode, x.concurrency, x.buffer, x.staleness,
           x.exponent, x.hinge_b, x.hinge_a, x.max_staleness, x.alpha);
}

// fit_config and strategy_options carry named values (the strategy's knobs, what a client
// trains with): every entry travels, whatever the strategy.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fit_config& x) {
  if constexpr (std::is_base_of<caf::serializer, Inspector>::value ||
                std::is_base_of<caf::deserializer, Inspector>::value) {
    if (auto err = f(x.round))
      return err;
    return detail::knob_map(f, x.values, "a fit config");
  } else {
    return f(caf::meta::type_name("flotilla::fit_config"), x.round, x.values);
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, strategy_options& x) {
  if constexpr (std::is_base_of<caf::serializer, Inspector>::value ||
                std::is_base_of<caf::deserializer, Inspector>::value) {
    if (auto err = f(x.name))
      return err;
    return detail::knob_map(f, x.knobs, "strategy options");
  } else {
    return f(caf::meta::type_name("flotilla::strategy_options"), x.name, x.knobs);
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, strategy_state& x) {
  if constexpr (std::is_base_of<caf::serializer, Inspector>::value) {
    if (auto err = f(x.strategy, x.steps))
      return err;
    auto n = x.buffers.size();
    if (auto err = f.begin_sequence(n))
      return err;
    for (const auto& b : x.buffers)
      if (auto err = actors::detail::raw_floats_save(f, b.data(), b.size()))
        return err;
    return f.end_sequence();
  } else if constexpr (std::is_base_of<caf::deserializer, Inspector>::value) {
    if (auto err = f(x.strategy, x.steps))
      return err;
    std::size_t n = 0;
    if (auto err = f.begin_sequence(n))
      return err;
    if (n > 16)
      return caf::make_error(caf::sec::invalid_argument, "strategy state with " + std::to_string(n) + " buffers");
    x.buffers.assign(n, {});
    for (auto& b : x.buffers)
      if (auto err = actors::detail::raw_floats_load(f, b))
        return err;
    return f.end_sequence();
  } else {
    auto n = static_cast<std::uint64_t>(x.buffers.size());
    return f(caf::meta::type_name("flotilla::strategy_state"), x.strategy, x.steps, n);
  }
}

namespace detail {

// One field of a record on the wire. A list of strings read from the network is bounded first:
// an empty string costs a byte on the wire and 32 in memory.
template <class Inspector, class T>
caf::error wire_field(Inspector& f, T& x) {
  return f(x);
}

template <class Inspector>
caf::error wire_field(Inspector& f, std::vector<std::string>& x) {
  if constexpr (std::is_base_of<caf::deserializer, Inspector>::value) {
    std::size_t n = 0;
    if (auto err = f.begin_sequence(n))
      return err;
    if (n > actors::max_failure_reasons || n > actors::detail::remaining_bytes(f))
      return caf::make_error(caf::sec::invalid_argument, "a round record with " + std::to_string(n) + " failure reasons");
    x.assign(n, {});
    for (auto& r : x)
      if (auto err = f(r))
        return err;
    return f.end_sequence();
  } else {
    return f(x);
  }
}

} // namespace detail

// Generated from round_record_fields (fl/record_fields.hpp): the wire carries every field, in
// the list's order.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, round_record& x) {
  if constexpr (std::is_same<typename Inspector::result_type, void>::value) {
    return f(caf::meta::type_name("flotilla::round_record"), x.phase, x.round, x.cluster); // logs: who, not all
  } else {
    caf::error err;
    round_record_fields(x, [&](const char*, auto& member, auto&&...) {
      if (!err)
        err = detail::wire_field(f, member);
    });
    return err;
  }
}

} // namespace flotilla::fl
