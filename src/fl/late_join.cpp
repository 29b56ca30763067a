#include "fl/late_join.hpp"

#include <stdexcept>
#include <string>

#include "fl/nearest.hpp"

namespace flotilla::fl {

std::vector<late_join_record> place_late_joiners(const cluster_registry& registry,
                                                 const std::map<std::uint32_t, std::shared_ptr<const std::vector<float>>>& points,
                                                 const std::vector<late_joiner>& joiners, std::uint32_t round) {
  std::vector<late_join_record> out;
  if (joiners.empty())
    return out;
  auto dim = joiners.front().features ? joiners.front().features->size() : 0;
  // The live clusters' members that have features, cluster by cluster in member order (the
  // order centroids_of sums them in), numbered 0..k-1 among the clusters that have any.
  std::vector<const float*> members;
  std::vector<std::uint32_t> label;
  std::vector<std::uint32_t> cluster_at;
  for (const auto& c : registry.clusters()) {
    if (c.failed)
      continue;
    auto k = static_cast<std::uint32_t>(cluster_at.size());
    for (auto id : c.members) {
      auto p = points.find(id);
      if (p == points.end() || !p->second)
        continue;
      if (p->second->size() != dim)
        throw std::invalid_argument("place_late_joiners: member " + std::to_string(id) + " has " +
                                    std::to_string(p->second->size()) + " features, the joiners " + std::to_string(dim));
      members.push_back(p->second->data());
      label.push_back(k);
    }
    if (!label.empty() && label.back() == k)
      cluster_at.push_back(c.id);
  }
  if (cluster_at.empty())
    return out;
  auto centroids = centroids_of(members, dim, label, static_cast<std::uint32_t>(cluster_at.size()));
  for (const auto& j : joiners) {
    if (!j.features || j.features->size() != dim)
      throw std::invalid_argument("place_late_joiners: joiner " + std::to_string(j.id) + " has " +
                                  std::to_string(j.features ? j.features->size() : 0) + " features, not " +
                                  std::to_string(dim));
    auto where = nearest_centroid(j.features->data(), dim, centroids);
    late_join_record rec{j.id, cluster_at[where.cluster], round,
                         std::vector<double>(registry.clusters().size(), -1.0)};
    for (std::size_t i = 0; i < cluster_at.size(); ++i)
      rec.distances[cluster_at[i]] = where.distances[i];
    out.push_back(std::move(rec));
  }
  return out;
}

} // namespace flotilla::fl
