#pragma once
// Every message Flotilla actors exchange: atoms, message types and their inspectors. All types
// are serializable, so a run moves the same messages in one process and across nodes.
#include <caf/all.hpp>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace flotilla::actors {

// Requests (each answered with the type named after the arrow).
using fit_atom = caf::atom_constant<caf::atom("fit")>;            // round, weights -> fit_result
using evaluate_atom = caf::atom_constant<caf::atom("evaluate")>;  // weights -> eval_result
using resources_atom = caf::atom_constant<caf::atom("resources")>; // -> resource_report
using promote_atom = caf::atom_constant<caf::atom("promote")>;    // cluster_spec, weights -> id
using member_atom = caf::atom_constant<caf::atom("member")>;      // cluster, server -> ok
using cluster_round_atom = caf::atom_constant<caf::atom("clround")>; // round -> cluster_result
using run_atom = caf::atom_constant<caf::atom("run")>;            // -> ok (report via observer)
using setup_atom = caf::atom_constant<caf::atom("setup")>;       // config, ids, fingerprint -> clients
using teardown_atom = caf::atom_constant<caf::atom("teardown")>; // -> number of clients dropped
// Coordinator-internal: move to the next step of the current phase.
using next_atom = caf::atom_constant<caf::atom("next")>;

/// Client id meaning "the server's own test set" in evaluation requests to a trainer pool.
constexpr std::uint32_t test_set = std::numeric_limits<std::uint32_t>::max();

/// Model weights: an immutable, shared buffer (copying a blob, or a message holding one, never
/// copies the floats: 10,000 clients forwarding the same model hold one buffer), and on the
/// wire one raw block (CAF's element-wise float encoding runs at ~200 MB/s, this at memcpy
/// speed; all nodes must be little-endian).
struct weight_blob {
  std::uint64_t layout = 0; ///< model layout id (model_spec::layout), checked on load
  std::shared_ptr<const std::vector<float>> data;

  weight_blob() = default;
  weight_blob(std::uint64_t layout_id, std::vector<float> values)
      : layout(layout_id), data(std::make_shared<const std::vector<float>>(std::move(values))) {}

  const std::vector<float>& values() const {
    static const std::vector<float> none;
    return data ? *data : none;
  }
  std::size_t size() const { return data ? data->size() : 0; }
};

/// The largest blob accepted from the wire (1 GiB of floats); never trust a length field.
constexpr std::size_t max_blob_floats = std::size_t{1} << 28;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, weight_blob& x) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "weights travel in host order");
  if constexpr (std::is_base_of<caf::serializer, Inspector>::value) {
    if (auto err = f(x.layout))
      return err;
    auto n = x.size();
    if (auto err = f.begin_sequence(n))
      return err;
    if (n > 0)
      if (auto err = f.apply_raw(n * sizeof(float), const_cast<float*>(x.data->data())))
        return err;
    return f.end_sequence();
  } else if constexpr (std::is_base_of<caf::deserializer, Inspector>::value) {
    if (auto err = f(x.layout))
      return err;
    std::size_t n = 0;
    if (auto err = f.begin_sequence(n))
      return err;
    if (n > max_blob_floats)
      return caf::make_error(caf::sec::invalid_argument,
                             "weight blob of " + std::to_string(n) + " floats exceeds the limit");
    auto values = std::make_shared<std::vector<float>>(n);
    if (n > 0)
      if (auto err = f.apply_raw(n * sizeof(float), values->data()))
        return err;
    x.data = std::move(values);
    return f.end_sequence();
  } else {
    // to_string and logging: the size only, never megabytes of floats.
    auto n = static_cast<std::uint64_t>(x.size());
    return f(caf::meta::type_name("flotilla::weight_blob"), x.layout, n);
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
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fit_result& x) {
  return f(caf::meta::type_name("flotilla::fit_result"), x.client_id, x.round, x.samples,
           x.train_loss, x.seconds, x.cpu_seconds, x.weights);
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

/// What a promoted client needs to serve its cluster.
struct cluster_spec {
  std::uint32_t cluster = 0;
  std::vector<std::uint32_t> member_ids; ///< sorted; includes the server itself
  std::vector<caf::actor> members;       ///< same order as member_ids
  double timeout_s = 600;
  double quorum = 0.5;
  double fraction_fit = 1.0;             ///< share of members asked per round
  std::uint64_t seed = 0;                ///< for that sample
  std::uint64_t expected_size = 0;       ///< floats per update
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_spec& x) {
  return f(caf::meta::type_name("flotilla::cluster_spec"), x.cluster, x.member_ids, x.members,
           x.timeout_s, x.quorum, x.fraction_fit, x.seed, x.expected_size);
}

/// One cluster round as its server reports it.
struct cluster_result {
  std::uint32_t cluster = 0;
  std::uint32_t round = 0;
  std::uint32_t server_id = 0;   ///< client id of the actor that aggregated
  caf::actor_addr aggregator;    ///< that actor's address: promotion happened in place
  std::uint32_t clients = 0;     ///< updates aggregated
  std::vector<std::uint32_t> failed;
  std::vector<std::string> failure_reasons;
  bool aggregated = false;       ///< false: quorum missed, the model is unchanged
  std::uint64_t samples = 0;
  double train_loss = 0;
  double test_accuracy = 0;      ///< the new model on the members' local test splits
  std::uint64_t evaluated = 0;   ///< images those evaluations covered
  double seconds = 0;
  weight_blob model;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_result& x) {
  return f(caf::meta::type_name("flotilla::cluster_result"), x.cluster, x.round, x.server_id,
           x.aggregator, x.clients, x.failed, x.failure_reasons, x.aggregated, x.samples,
           x.train_loss, x.test_accuracy, x.evaluated, x.seconds, x.model);
}

/// Registers every type above; call on every actor system's config, on every node.
void add_protocol_types(caf::actor_system_config& cfg);

} // namespace flotilla::actors
