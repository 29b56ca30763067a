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

/// noised_fraction_below when the noise is already in the count (privacy.dp=distributed: the
/// members' shares of the count's noise are in the secure sum): clamp((noised_below -
/// members / 2) / expected_members + 1/2, 0, 1). Throws std::invalid_argument when
/// expected_members is 0 or noised_below is not finite.
double fraction_from_noised_count(double noised_below, std::size_t members, std::size_t expected_members);

/// The clipped count's noise stddev at an aggregation point that asks `expected_members` a
/// round with noise multiplier z: Andrew et al.'s sigma_b = m / 20, but at least z. The floor
/// keeps 2 sigma_b > z (update_noise_multiplier then always leaves noise for the updates) and
/// costs the updates at most 1 / sqrt(3/4), 15% more noise, in a small cluster (m < 20 z),
/// where m / 20 alone would take most of the privacy budget for the count. Throws
/// std::invalid_argument unless z > 0 is finite and expected_members > 0.
double count_stddev(std::size_t expected_members, double noise_multiplier);

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

/// privacy.adaptive_clip: the clip's rule at an aggregation point.
struct adaptive_clip_rule {
  double target_quantile = 0.5; ///< privacy.target_quantile: the share of updates meant to fit
  double learning_rate = 0.2;   ///< privacy.clip_lr: the geometric step (Andrew et al.'s eta_C)
};

/// The clip norms a run may use (privacy.clip's range): adaptive clipping stays inside it, so a
/// clip driven towards 0 (target_quantile 0) neither underflows nor grows without bound.
constexpr double min_clip = 1e-6, max_clip = 1e6;

/// An aggregation point's clip norm now: the one adaptive clipping moved it to (`moved`, 0 before
/// its first counted round), else the configured privacy.clip.
inline double clip_now(double moved, double configured) { return moved > 0 ? moved : configured; }

/// The clip norm after a round that used `clip` and counted `fraction` of its updates within it
/// (round_record's clip_fraction): adaptive_clip_update by the rule, clamped to [min_clip,
/// max_clip], or `clip` itself when the round counted nothing (fraction < 0: it did not
/// aggregate). Same throws as adaptive_clip_update.
double next_clip(double clip, double fraction, const adaptive_clip_rule& rule);

} // namespace flotilla::fl::privacy
