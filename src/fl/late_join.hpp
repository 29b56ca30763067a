#pragma once
// Late joiners: clients that arrive during the cluster phase go to the cluster whose centroid
// (of its members' clustering features) is nearest to their own features.
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "fl/cluster_registry.hpp"
#include "fl/run_report.hpp"

namespace flotilla::fl {

/// A late joiner as the coordinator hands it over: its id and its clustering features.
struct late_joiner {
  std::uint32_t id = 0;
  std::shared_ptr<const std::vector<float>> features;
};

/// Where late joiners go: each live cluster's centroid is the mean of its members' features
/// (`points`; members without features do not count, a cluster with none has no centroid), and a
/// joiner goes to the nearest centroid (ties to the lower cluster id). Returns one record per
/// joiner, in order, with its distance to every cluster (-1: no centroid); empty when no
/// cluster has a centroid. Throws std::invalid_argument for features of another dimension.
std::vector<late_join_record> place_late_joiners(const cluster_registry& registry,
                                                 const std::map<std::uint32_t, std::shared_ptr<const std::vector<float>>>& points,
                                                 const std::vector<late_joiner>& joiners, std::uint32_t round);

} // namespace flotilla::fl
