#pragma once
// What both synthetic generators share: a portable seeded stream of normals, the per-user
// train/test split, and the sizing of a whole set before anything is allocated.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <utility>

#include "data/federated_set.hpp"

namespace flotilla::data {

/// data.users bound of both synthetic generators.
inline constexpr std::uint32_t synthetic_max_users = 10'000'000;

namespace synthetic_detail {

/// The seeded stream both synthetic generators draw from. Normals come from the polar method on
/// the raw mt19937_64 output rather than std::normal_distribution, whose values differ between
/// standard libraries, so a seed gives the same data with any of them (up to the last-bit
/// rounding of std::log, which IEEE 754 leaves to the C library).
class normal_stream {
public:
  normal_stream(std::uint64_t seed, std::uint64_t stream, std::uint32_t domain);
  double normal();                          ///< N(0, 1)
  std::uint64_t below(std::uint64_t bound); ///< uniform on [0, bound), bound >= 1

private:
  std::mt19937_64 rng_;
  bool has_spare_ = false;
  double spare_ = 0;
};

/// numpy's int(0.9 * n): the train share of a user's n samples, both generators' split.
std::size_t train_count(std::size_t n);

/// A set of no users yet: `dims` features a sample, `classes` classes.
federated_set empty_users_set(std::size_t dims, std::size_t classes);

/// Sizes both splits of `users` users from `split_of(user)` (its train and test counts, cheap),
/// refuses a set over max_samples (data_error naming data.users), and reserves `out`'s vectors
/// once at their final size, `dims` floats a sample.
void reserve_users(federated_set& out, std::uint32_t users, std::size_t dims,
                   const std::function<std::pair<std::size_t, std::size_t>(std::uint32_t)>& split_of);

} // namespace synthetic_detail

} // namespace flotilla::data
