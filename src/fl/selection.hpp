#pragma once
#include <cstdint>
#include <vector>

namespace flotilla::fl {

/// A client's load as the seed rule sees it: CPU percent plus memory percent.
struct resource_score {
  double cpu = 0;
  double mem = 0;
  double score() const { return cpu + mem; }
};

/// For each cluster, the member with the lowest score becomes its server; ties go to the lowest
/// client id. `assignment[i]` is client i's cluster, `scores[i]` its score. A cluster without
/// members gets no server (UINT32_MAX).
std::vector<std::uint32_t> select_servers(const std::vector<std::uint32_t>& assignment,
                                          std::uint32_t clusters,
                                          const std::vector<resource_score>& scores);

} // namespace flotilla::fl
