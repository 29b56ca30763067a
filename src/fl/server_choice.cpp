#include "fl/server_choice.hpp"

#include <stdexcept>

#include "fl/cluster_registry.hpp"
#include "fl/device_time.hpp"
#include "fl/seeds.hpp"

namespace flotilla::fl {

double server_choice_score(const std::string& policy, double cpu_percent, double mem_percent, const device* d,
                           std::uint64_t model_bytes, std::uint64_t seed, std::uint32_t client) {
  if (policy == "fastest") {
    if (!d)
      throw std::invalid_argument("selection.policy=fastest ranks devices: it needs clock=virtual");
    return 2 * transfer_seconds(model_bytes, d->kbps) + d->ms_per_sample / 3000.0;
  }
  if (policy == "random")
    return static_cast<double>(splitmix64(splitmix64(seed ^ 0x5e1ec7ull) + client) >> 11) / 9007199254740992.0;
  return server_score(cpu_percent, mem_percent);
}

} // namespace flotilla::fl
