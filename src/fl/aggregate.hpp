#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace flotilla::fl {

/// One client's contribution to an aggregate: a view of its weights and its sample count.
struct weighted_update {
  std::uint32_t client_id = 0;
  std::uint64_t samples = 0;
  const std::vector<float>* weights = nullptr;
};

/// Why an update cannot be aggregated, or empty when it can: wrong size, NaN or infinity.
std::string check_update(const std::vector<float>& weights, std::size_t expected_size);

/// FedAvg (McMahan et al. 2017): the sample-weighted mean. Reduces in client-id order, not
/// arrival order, so the result is bit-identical whatever the timing. Throws
/// std::invalid_argument on an empty list, mismatched sizes or zero total samples.
std::vector<float> fedavg(std::vector<weighted_update> updates);

} // namespace flotilla::fl
