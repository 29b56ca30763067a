#pragma once
// A checkpoint as the coordinator writes it after cluster round 2 of a 3-client run: cluster 0
// = {0, 2} served by 2 after an election, client 1 lost. Shared by the checkpoint file tests and
// the checkpoint checks; each adds what it needs.
#include <memory>
#include <vector>

#include "fl/checkpoint.hpp"

namespace flotilla::test {

inline fl::checkpoint cluster_round_checkpoint() {
  fl::checkpoint cp;
  cp.phase = "cluster";
  cp.round = 2;
  cp.global = {1.5f, -2.25f, 3};
  cp.samples_of = {10, 20, 30};
  fl::cluster_record c;
  c.id = 0;
  c.members = {0, 2};
  c.server = 2;
  c.last_server = 2;
  c.model = std::make_shared<const std::vector<float>>(std::vector<float>{7, 8, 9});
  c.state = {"fedadam", 1, {{4, 5, 6}, {7, 8, 9}}};
  c.rounds_done = 2;
  c.term = 2;
  c.elections = {{2, 2, 1, 2, "crashed"}};
  cp.clusters = {c};
  cp.clients[0] = fl::client_record{12.5, false, "", 0, 0u};
  cp.clients[1] = fl::client_record{3.0, true, "crashed", 0, std::nullopt};
  cp.clients[2] = fl::client_record{4.0, false, "", 0, 0u};
  cp.selected = true;
  cp.report.initial_global = {1, 1, 1};
  cp.report.projection[0] = {0.1, 0.2};
  cp.report.warnings = {"something"};
  cp.metrics_bytes = 789;
  return cp;
}

} // namespace flotilla::test
