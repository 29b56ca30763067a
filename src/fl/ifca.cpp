#include "fl/ifca.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace flotilla::fl {

std::uint32_t ifca_choice(const std::vector<double>& losses, const std::vector<std::uint32_t>& order,
                          std::optional<std::uint32_t> current) {
  if (losses.empty() || losses.size() != order.size())
    throw std::invalid_argument("ifca_choice: " + std::to_string(losses.size()) + " losses for " + std::to_string(order.size()) + " clusters");
  for (auto l : losses)
    if (std::isnan(l))
      throw std::invalid_argument("ifca_choice: a loss is NaN");
  // The lowest loss wins; a tie keeps the client where it is, else the lowest position.
  std::size_t best = 0;
  for (std::size_t i = 1; i < losses.size(); ++i)
    if (losses[i] < losses[best] || (losses[i] == losses[best] && current && order[i] == *current))
      best = i;
  return order[best];
}

} // namespace flotilla::fl
