#include "actors/dp_round.hpp"

#include <algorithm>
#include <cmath>

#include "actors/protocol.hpp"
#include "fl/aggregate.hpp"
#include "fl/privacy/dp_clip.hpp"
#include "fl/privacy/dp_fedavg.hpp"
#include "fl/privacy/dp_noise.hpp"

namespace flotilla::actors {

dp_plan plan_dp(const dp_round& dp, std::size_t asked) {
  dp_plan p;
  p.counted = dp.on() && dp.adaptive && asked > 0;
  p.count_sigma = p.counted ? fl::privacy::count_stddev(asked, dp.sigma) : 0.0;
  p.update_sigma = p.counted ? fl::privacy::update_noise_multiplier(dp.sigma, p.count_sigma) : dp.sigma;
  return p;
}

void set_dp_fit(fit_ins& f, const dp_round& dp, const dp_plan& plan, bool shares, std::size_t members,
                std::uint32_t round) {
  f.dp_clip = dp.on() ? dp.clip : 0.0;
  f.report_clip = plan.counted;
  if (!shares)
    return;
  f.secure_noise = fl::privacy::share_stddev(plan.update_sigma, dp.clip, members);
  f.count_noise = plan.counted ? plan.count_sigma / std::sqrt(static_cast<double>(members)) : 0.0;
  f.noise_point = dp.point;
  f.noise_round = round;
}

dp_step_result dp_step(const dp_round& dp, const dp_plan& plan, const std::vector<float>& current,
                       std::vector<float> mean, std::size_t accepted, std::size_t asked, bool noised,
                       std::size_t clear, std::int64_t secure, std::uint32_t round) {
  dp_step_result out;
  out.model = fl::privacy::dp_fedavg_step(current, mean, accepted, asked, noised ? 0.0 : plan.update_sigma, dp.clip,
                                          fl::privacy::central_key(dp.seed, dp.point, round));
  if (!plan.counted)
    return out;
  const double count = static_cast<double>(secure) / fl::fixed_scale;
  if (noised) {
    out.clip_fraction = fl::privacy::fraction_from_noised_count(static_cast<double>(clear) + count, accepted, asked);
  } else {
    auto below = clear + static_cast<std::size_t>(std::max(0LL, std::llround(count)));
    out.clip_fraction = fl::privacy::noised_fraction_below(std::min(below, accepted), accepted, asked,
                                                           plan.count_sigma,
                                                           fl::privacy::count_noise(dp.seed, dp.point, round));
  }
  return out;
}

} // namespace flotilla::actors
