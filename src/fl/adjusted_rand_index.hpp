#pragma once
#include <cstdint>
#include <vector>

namespace flotilla::fl {

/// Hubert & Arabie's adjusted Rand index of two labelings of the same items: 1 for identical
/// partitions (whatever the label names), about 0 for chance agreement.
double adjusted_rand_index(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);

} // namespace flotilla::fl
