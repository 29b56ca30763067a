#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "data/partition.hpp"
#include "fl/device_time.hpp"
#include "fl/experiment.hpp"
#include "fl/resources.hpp"
#include "fl/secagg/prg.hpp"
#include "model/model_spec.hpp"
#include "model/train_options.hpp"

namespace flotilla::actors {

/// A simulated device's standing load for one client (see app::device_profile).
struct client_profile {
  bool active = false;
  double cpu = 0;
  double mem = 0;
};

/// What every actor on one node shares read-only: the dataset loaded once, the partitions
/// (computed identically on every node from config and seed), the model and training settings,
/// and the host's resource monitor.
struct node_context {
  std::uint64_t seed = 0;
  std::shared_ptr<const data::dataset> data;
  /// Every client's partition, shared with the run plan (a million of them are not copied).
  std::shared_ptr<const std::vector<data::client_partition>> partition_list;
  const std::vector<data::client_partition>& partitions() const { return *partition_list; }
  std::map<std::int64_t, std::vector<std::int32_t>> rotation_maps; ///< by whole degrees
  /// The first rows of the test split that evaluating the global model covers (data.test_limit).
  std::size_t global_test_rows = 0;
  /// privacy.dp: a client's update (trained weights less the round's model) is clipped to this
  /// L2 norm before it leaves the client (0: no clipping).
  double dp_clip = 0;
  /// privacy.adaptive_clip: the round's clip comes with the fit (fit_ins::dp_clip), kept in
  /// privacy.clip's range; without it the aggregator cannot move this node's clip.
  bool dp_adaptive = false;
  /// privacy.min_cluster: a member refuses a secure round whose parameters allow fewer members
  /// (the aggregator sets them; an honest one never goes below the run's).
  std::uint32_t secure_min_members = 3;
  /// strategy.*'s asynchronous options: a member weights its held FedBuff updates itself.
  fl::async_options async;
  /// privacy.secure_aggregation: the coordinator's Ed25519 public key (fl/secagg/model_registry),
  /// from the run's own process or the node's setup, never from an aggregator. A member masks
  /// its update only for a model the coordinator signed for the round; without a key it refuses
  /// every secure fit.
  std::optional<fl::secagg::key32> registrar_key;
  model::model_choice model_choice; ///< what every trainer builds (model.name for this data)
  model::model_spec model;
  model::train_options train;
  fl::attack_options attack;            ///< simulated poisoning by some clients
  std::vector<client_profile> profiles; ///< by client id
  std::shared_ptr<fl::host_monitor> host = std::make_shared<fl::host_monitor>();
  std::uint32_t cores = 1;
  /// model.buffers=local: where this machine's clients keep their layer histories (the run's
  /// directory under runtime.client_state).
  std::string client_state_dir;
  std::uint64_t max_layer_versions = 0; ///< a layer history's bound: a version per round of the run
  /// clock=virtual: every client's device and fit time (null under the wall clock).
  std::shared_ptr<const fl::device_clock> clock;

  /// The pixel map of client `id` (empty when its images are not rotated).
  const std::vector<std::int32_t>& pixel_map(std::uint32_t id) const;

  std::vector<std::vector<std::int64_t>> train_label_maps; ///< per client: labels it trains on

  /// The label map client `id` trains with: its partition's (label_swap), flipped when it
  /// attacks with label_flip.
  const std::vector<std::int64_t>& training_labels(std::uint32_t id) const;

  /// Whether client `id` attacks.
  bool attacker(std::uint32_t id) const;
};

/// Builds the context: partitions the training set among every client of the experiment
/// (late joiners included) and precomputes rotation maps.
std::shared_ptr<node_context> make_node_context(std::shared_ptr<const data::dataset> data,
                                                const fl::experiment& experiment,
                                                const data::partition_options& partition,
                                                const model::model_choice& model,
                                                const model::train_options& train,
                                                std::shared_ptr<const std::vector<data::client_partition>> partitions = nullptr);

} // namespace flotilla::actors
