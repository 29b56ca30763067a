#pragma once
// Clustered Federated Learning (Sattler, Müller & Samek 2021): a cluster whose members' updates
// cancel out (the mean update is small: the shared model is near a stationary point of the
// joint objective) while some members still move far (their own objectives disagree) is split
// in two by the cosine similarity of the updates.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flotilla::fl {

/// What cfl_check measured and decided for one cluster.
struct cfl_decision {
  double mean_norm = 0; ///< ‖(1/n) Σ Δ_i‖
  double max_norm = 0;  ///< max ‖Δ_i‖
  bool split = false;
  std::vector<std::uint32_t> first, second; ///< the two sides when split; first holds the lowest id
  std::string reason;                       ///< why there was no split (empty when split)
};

/// Decides whether the cluster of `ids` (strictly ascending, one update Δ_i = w_i − w_start of
/// `dim` floats each) splits: when mean_norm < eps1, max_norm > eps2 and n >= 2 · min_size. The
/// bipartition is complete-linkage agglomerative clustering on −cos(Δ_i, Δ_j), as the paper's
/// code does; when a side has fewer than min_size members there is no split. Throws
/// std::invalid_argument for mismatched inputs, unsorted ids, negative or NaN thresholds,
/// min_size 0 or non-finite updates.
cfl_decision cfl_check(const std::vector<std::uint32_t>& ids, const std::vector<const float*>& updates,
                       std::size_t dim, double eps1, double eps2, std::size_t min_size);

} // namespace flotilla::fl
