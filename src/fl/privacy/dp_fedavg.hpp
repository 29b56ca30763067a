#pragma once
// DP-FedAvg's server step (McMahan et al., ICLR 2018) with central noise: the clients clip their
// updates (fl/privacy/dp_clip), the aggregation point averages them with uniform weights, and
// this step turns that mean into the noised fixed-denominator estimate
//
//   next = current + (sum of the accepted clipped updates + N(0, (z C)^2)) / asked
//
// where the sum is accepted x (mean - current) and `asked` is the round's sampled participants:
// the denominator is public (the sample size), not the number that answered, so a client that
// drops out changes the sum by at most C, the sensitivity the accountant assumes.
#include <cstddef>
#include <vector>

#include "fl/privacy/dp_noise.hpp"

namespace flotilla::fl::privacy {

/// A client's trained weights with their update (trained - start) clipped to L2 norm `clip`
/// (fl/privacy/dp_clip): start + clipped update. Throws std::invalid_argument on a size mismatch.
std::vector<float> clipped_update(const std::vector<float>& start, std::vector<float> trained, double clip);
/// The same, and whether the update's norm was within `clip` before (adaptive clipping's bit).
std::vector<float> clipped_update(const std::vector<float>& start, std::vector<float> trained, double clip,
                                  bool& within);

/// The aggregation point's own noise stream for a round (central noise): member id all ones,
/// which no client has.
noise_key central_key(std::uint64_t seed, std::uint32_t point, std::uint32_t round);

/// The step above, element by element in double. Throws std::invalid_argument when the sizes
/// differ, accepted > asked, asked is 0, or z, C are not finite (z >= 0, C > 0).
std::vector<float> dp_fedavg_step(const std::vector<float>& current, const std::vector<float>& mean,
                                  std::size_t accepted, std::size_t asked, double noise_multiplier, double clip,
                                  const noise_key& key);

} // namespace flotilla::fl::privacy
