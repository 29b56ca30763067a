#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "data/federated_set.hpp"

namespace flotilla::data {

/// A generated set described user by user: what is cheap to know of every user up front (its
/// train and test row counts, its true cluster) and how to make one user's rows.
struct user_generator {
  std::string identity;                  ///< every option the rows depend on (for the fingerprint)
  std::vector<std::size_t> sample_shape; ///< 1 to 3 dims
  std::size_t classes = 0;
  std::uint32_t users = 0;
  /// A user's train and test row counts, from the start of its stream only.
  std::function<std::pair<std::size_t, std::size_t>(std::uint32_t)> counts;
  /// A user's true cluster; empty when the generator has none.
  std::function<std::int32_t(std::uint32_t)> true_group;
  /// One user's rows alone: its train and test arrays, as counts() says.
  std::function<federated_set(std::uint32_t)> make_user;
};

} // namespace flotilla::data
