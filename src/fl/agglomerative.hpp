#pragma once
// Hierarchical agglomerative clustering, as FL+HC (Briggs, Fan & Andras 2020) clusters clients
// by their updates, and as CFL (Sattler et al. 2021) bipartitions a cluster.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flotilla::fl {

/// Which clusters merge first, on which distance.
enum class linkage {
  ward,           ///< minimum increase of within-cluster variance, Euclidean distance
  average_cosine, ///< mean pairwise cosine distance 1 − cos between the two clusters
};

/// How the merge loop updates the dissimilarity of a merged cluster (Lance–Williams).
enum class merge_rule {
  ward,     ///< on squared Euclidean distances
  average,  ///< unweighted mean of member pairs (UPGMA)
  complete, ///< the largest member pair
};

/// Clusters n points of `dim` floats into k (1 <= k <= n), merging the closest pair of clusters
/// until k remain; ties merge the pair with the lowest indices. Labels are numbered by first
/// appearance, as fl::kmeans numbers them. O(n²) memory; distances are computed once, in double.
/// Throws std::invalid_argument for a bad k or for non-finite distances (NaN or infinite inputs).
std::vector<std::uint32_t> agglomerative(const std::vector<const float*>& points, std::size_t dim,
                                         std::uint32_t k, linkage l);

/// The merge loop itself on a row-major n × n symmetric `dissimilarity` (for merge_rule::ward,
/// squared Euclidean distances; any finite values otherwise, negative ones included). Same
/// labels, ties and errors as agglomerative.
std::vector<std::uint32_t> agglomerate(std::vector<double> dissimilarity, std::size_t n, std::uint32_t k,
                                       merge_rule rule);

} // namespace flotilla::fl
