#pragma once
// Coordinate-wise robust statistics over a round's kept updates (Yin et al. 2018), shared by
// the median and trimmed-mean strategies.
#include <vector>

#include "fl/round_updates.hpp"

namespace flotilla::fl {

/// For every coordinate: sort the updates' values and average the ones ranked [cut, n - cut)
/// (unweighted). cut = 0 is the mean; the median is the middle one or two. Updates are taken
/// in client-id order, so the result does not depend on arrival order.
std::vector<float> coordinate_trimmed_mean(const round_updates& updates, std::size_t cut);

/// The coordinate-wise median (the mean of the middle two for an even count).
std::vector<float> coordinate_median(const round_updates& updates);

} // namespace flotilla::fl
