#pragma once
// Bounding one member's influence on an aggregate: L2 clipping of its update (the sensitivity
// the privacy accountant assumes) and adaptive clipping, which moves the clip norm towards a
// quantile of the members' update norms (Andrew, Thakkar, McMahan & Ramaswamy, NeurIPS 2021,
// "Differentially Private Learning with Adaptive Clipping").
#include <cstddef>
#include <vector>

namespace flotilla::fl::privacy {

/// What clip_l2 did: the update's norm before clipping and the factor applied (1: unchanged).
struct clip_result {
  double norm = 0;
  double scale = 1;
  bool clipped() const { return scale != 1; }
};

/// The L2 norm of v[0..n), squares accumulated in double in index order, so the same floats give
/// the same bits on every run and thread count.
double l2_norm(const float* v, std::size_t n);

/// Scales v[0..n) in place so that its L2 norm is at most `clip`, when it is above. The scale is
/// clip / norm times (1 - 2^-22): rounding the scaled values to float can lengthen the vector
/// by up to 2^-24 of its norm, and the margin keeps the result within `clip` (the sensitivity
/// the accountant assumes) for n up to 2^30. An update within `clip` is left untouched.
/// Throws std::invalid_argument unless clip > 0 is finite, or when v holds NaN or infinity
/// (a diverged member; nothing is changed).
clip_result clip_l2(float* v, std::size_t n, double clip);
/// clip_l2 on a whole vector.
clip_result clip_l2(std::vector<float>& v, double clip);

/// The noised fraction of members whose update norm was at most the clip norm (Andrew et al.
/// 2021, Alg. 1 / TF Privacy's QuantileEstimatorQuery): each member's bit b_i = [norm_i <= C] is
/// centred to b_i - 1/2 (so one member moves the count by at most 1/2), the count gets
/// N(0, count_stddev^2) noise (`standard_normal` is one N(0, 1) draw, e.g. dp_noise's
/// count_noise), is divided by the expected number of members (a fixed, public denominator) and
/// shifted back: b = (sum_i (b_i - 1/2) + count_stddev * standard_normal) / expected + 1/2,
/// clamped to [0, 1]. Throws std::invalid_argument when below > members, expected_members is 0
/// or count_stddev is negative or not finite.
double noised_fraction_below(std::size_t below, std::size_t members, std::size_t expected_members,
                             double count_stddev, double standard_normal);

/// The geometric clip update of Andrew et al. 2021: C * exp(-learning_rate * (fraction_below -
/// target_quantile)). Clips grow while fewer than the target quantile of updates fit, and shrink
/// while more do. Throws std::invalid_argument unless clip > 0 is finite, fraction_below and
/// target_quantile are in [0, 1] and learning_rate >= 0 is finite.
double adaptive_clip_update(double clip, double fraction_below, double target_quantile,
                            double learning_rate);

/// The noise multiplier left for the update sum when the clipped count also spends privacy
/// (Andrew et al. 2021, Thm 1): one Gaussian mechanism with multiplier z equals the update sum
/// at z_update and the count (sensitivity 1/2, noise count_stddev) together when
/// z_update = (z^-2 - (2 count_stddev)^-2)^(-1/2). The accountant is then fed z. Throws
/// std::invalid_argument unless 2 count_stddev > z > 0 (else nothing is left for the updates).
double update_noise_multiplier(double noise_multiplier, double count_stddev);

} // namespace flotilla::fl::privacy
