#pragma once
// The clustering methods, as data: how the clients are first grouped, and what the cluster phase
// does between rounds. The coordinator and fl::cluster_phase read these traits, never a method's
// name, so a new method is an entry in cluster_methods.cpp plus its rule in a file of its own
// (as fl/ifca.cpp): neither the actors nor the state machine change.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace flotilla::fl {

struct cluster_method {
  enum class grouping { kmeans, agglomerative, one_cluster, none };

  std::string name;
  std::string about;
  grouping initial = grouping::kmeans; ///< how clustering first groups the clients
  /// CFL-like: the server checks its cluster after each round and proposes a split; splits are
  /// applied at a common point after every round (new clusters numbered in parent order).
  bool splits = false;
  /// IFCA-like: after every round but the last, every client reports its loss on each live
  /// cluster's model (in cluster order) and goes where this rule says; none: no reassignment.
  std::function<std::uint32_t(const std::vector<double>& losses, const std::vector<std::uint32_t>& order,
                              std::optional<std::uint32_t> current)>
    reassign;
};

/// Every method, in the order the documentation lists them.
const std::vector<cluster_method>& cluster_methods();

/// The method of that name; throws std::invalid_argument naming the known ones.
const cluster_method& cluster_method_named(const std::string& name);

std::vector<std::string> cluster_method_names();

/// Whether `method` is plain federated learning (grouping::none): no clustering, selection or
/// cluster phase. Throws like cluster_method_named.
bool plain_fl(const std::string& method);

} // namespace flotilla::fl
