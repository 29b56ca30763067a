#include "fl/selection.hpp"

#include <limits>
#include <stdexcept>

namespace flotilla::fl {

std::vector<std::uint32_t> select_servers(const std::vector<std::uint32_t>& assignment,
                                          std::uint32_t clusters,
                                          const std::vector<resource_score>& scores) {
  if (assignment.size() != scores.size())
    throw std::invalid_argument("select_servers: " + std::to_string(assignment.size()) +
                                " assignments but " + std::to_string(scores.size()) + " scores");
  constexpr auto none = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::uint32_t> server(clusters, none);
  for (std::uint32_t i = 0; i < assignment.size(); ++i) {
    auto c = assignment[i];
    if (c >= clusters)
      throw std::invalid_argument("select_servers: client " + std::to_string(i) + " is in cluster " +
                                  std::to_string(c) + " of " + std::to_string(clusters));
    // Strictly lower wins, and ids rise, so a tie keeps the lower id.
    if (server[c] == none || scores[i].score() < scores[server[c]].score())
      server[c] = i;
  }
  return server;
}

} // namespace flotilla::fl
