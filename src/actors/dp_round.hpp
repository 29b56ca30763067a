#pragma once
// privacy.dp at one round of an aggregation point (the round engine's part of DP-FedAvg): what
// the members are told with their fit, and the step that turns the strategy's mean into the
// round's model, with adaptive clipping's count. Plain values and functions, no actors.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flotilla::actors {

struct fit_ins;

/// privacy.dp at an aggregation point (sigma > 0). Every accepted update counts once (clipped
/// updates bound what one client moves the sum by) and the strategy's mean goes through
/// DP-FedAvg's fixed-denominator step (fl/privacy/dp_fedavg) with N(0, (sigma C)^2) keyed by
/// (seed, point, round) before it is the model. `distributed`: in a secure round the members
/// add that noise in shares before masking and the aggregator adds none (a round in the clear
/// gets it centrally); with k of m shares in the sum the record's noise_multiplier is
/// sigma sqrt(k / m). `adaptive` (privacy.adaptive_clip, Andrew et al. 2021): the members say
/// whether their update fit within `clip` (inside the masked input in a secure round), the
/// count gets N(0, sigma_b^2) with sigma_b = fl::privacy::count_stddev(asked, sigma) (centrally,
/// or in the members' shares), the record carries the noised fraction (clip_fraction), and the
/// updates' noise multiplier is update_noise_multiplier(sigma, sigma_b), so that both together
/// spend what sigma alone would: the accountant is fed sigma.
struct dp_round {
  double sigma = 0;         ///< privacy.noise_multiplier (0: no DP)
  double clip = 0;          ///< C this round
  bool distributed = false; ///< privacy.dp=distributed
  bool adaptive = false;    ///< privacy.adaptive_clip
  std::uint64_t seed = 0;   ///< the run's seed: the noise streams
  std::uint32_t point = 0;  ///< the aggregation point: 0 the coordinator, cluster c is c + 1
  bool on() const { return sigma > 0; }
};

/// What a round's DP needs once it knows how many it asked: whether it counts the clipped
/// updates (adaptive clipping with someone asked), the count's noise sigma_b and the updates'
/// multiplier (sigma itself without the count).
struct dp_plan {
  bool counted = false;
  double count_sigma = 0;
  double update_sigma = 0;
};
dp_plan plan_dp(const dp_round& dp, std::size_t asked);

/// The DP fields of a fit: the round's clip, whether to report fitting within it, and for a
/// member that adds noise shares (`shares`: distributed noise in a secure round of `members`
/// members) its shares' stddevs and stream.
void set_dp_fit(fit_ins& f, const dp_round& dp, const dp_plan& plan, bool shares, std::size_t members,
                std::uint32_t round);

/// The round's model from the strategy's mean: DP-FedAvg's step (no central noise when the
/// members' shares are in the sum: `noised`), and under adaptive clipping the noised fraction of
/// the `accepted` updates within the clip (-1 when not counted): `clear` counted in the clear,
/// `secure` the secure sum's count on fixed_terms' grid (with the shares in it when `noised`).
struct dp_step_result {
  std::vector<float> model;
  double clip_fraction = -1;
};
dp_step_result dp_step(const dp_round& dp, const dp_plan& plan, const std::vector<float>& current,
                       std::vector<float> mean, std::size_t accepted, std::size_t asked, bool noised,
                       std::size_t clear, std::int64_t secure, std::uint32_t round);

} // namespace flotilla::actors
