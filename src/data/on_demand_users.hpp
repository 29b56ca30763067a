#pragma once
// Generated federated sets made user by user when a client needs them (issue 17: "very many
// clients cost no memory up front"). Up front a split holds only its count, its shape and each
// row's owner; a user's rows are generated from (seed, user) when first gathered and kept in a
// small cache of the most recent users, so memory is bounded by the cache, not by data.users.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.hpp"
#include "data/federated_set.hpp"
#include "data/user_generator.hpp"

namespace flotilla::data {

/// Rows cached by default: 2^18 rows of FedProx's 60 features are about 66 MB.
inline constexpr std::size_t on_demand_cache_rows = std::size_t{1} << 18;

/// What make_on_demand returns: both splits (count, owner = user index, source; no pixels or
/// labels; shape left to the caller), the natural ids ("0", "1", ...) and true groups.
struct on_demand_set {
  split train, test;
  std::vector<std::string> natural_ids;
  std::vector<std::int32_t> true_group;
};

/// Counts every user's rows (data_error naming data.users when a split would pass max_samples)
/// and returns splits whose sources make a user's rows when first gathered. A user whose made
/// rows differ in number from its counts is a data_error (a generator bug, never silent).
on_demand_set make_on_demand(const user_generator& generator, std::size_t cache_rows = on_demand_cache_rows);

} // namespace flotilla::data
