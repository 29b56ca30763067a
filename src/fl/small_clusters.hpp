#pragma once
// privacy.secure_aggregation: a cluster's rounds are summed under masks only when the cluster
// has at least privacy.min_cluster members besides its server; a smaller one would expose
// single updates, so its rounds could never aggregate. Clustering merges such clusters into
// their nearest neighbour instead (issue 19: "refused at configuration or merged"), before
// any server is chosen.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flotilla::fl {

/// Merges every cluster of fewer than `min_size` points into the cluster whose centroid is
/// nearest to its own (squared L2 over `dim` coordinates; ties to the lower id), the smallest
/// cluster first (ties to the lower id), until every cluster has min_size points or one cluster
/// is left; then renumbers the clusters that were not merged away 0..k'-1 keeping their order
/// (nothing changes when no cluster is too small; an empty cluster is left alone). `assignment[i]` is point
/// i's cluster, below k (an assignment of k = 0 or an empty one is left as it is). Returns k'.
/// Throws std::invalid_argument when a label is k or more, or the sizes differ.
std::uint32_t merge_small_clusters(std::vector<std::uint32_t>& assignment, const std::vector<const float*>& points,
                                   std::size_t dim, std::uint32_t k, std::size_t min_size);

/// The fewest clients a cluster needs so that each of its secure rounds can sum at least
/// `min_cluster` members besides its server: a round asks participants_of(size, fraction_fit)
/// of them (fl/strategy.hpp), less round(stragglers x that) when stragglers are not asked
/// (fl/stragglers.hpp), and the server may be among those asked. At most `limit` (the whole
/// population: every cluster then merges into one).
std::size_t secure_cluster_size(std::size_t min_cluster, double fraction_fit, double stragglers, bool keep_stragglers,
                                std::size_t limit);

} // namespace flotilla::fl
