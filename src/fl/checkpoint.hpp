#pragma once
// Everything a run needs to continue where it stopped, as plain values: written after every
// round (app/checkpoint_file writes it atomically, with a version and a checksum) and given
// back to a new coordinator by `flotilla resume`. Every random stream of a run is a function
// of (seed, client, round), so continuing from here gives the same bits as never stopping.
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fl/async_aggregation.hpp"
#include "fl/cluster_registry.hpp"
#include "fl/run_report.hpp"
#include "fl/strategy.hpp"

namespace flotilla::fl {

struct checkpoint {
  /// "initial": initial rounds 1..round are done. "cluster": clustering, selection and cluster
  /// rounds 1..round are done (0: just after selection), with their after-round steps.
  std::string phase;
  std::uint32_t round = 0;
  std::vector<float> global;          ///< the coordinator's global model
  strategy_state strategy;            ///< the coordinator's strategy state
  std::vector<std::uint64_t> samples_of;
  std::vector<cluster_record> clusters; ///< the registry (cluster phase)
  std::map<std::uint32_t, client_record> clients;
  /// Clients lost before the registry existed (initial phase): clustering marks them lost.
  /// Injected faults are not here: they are in report.faults, and a resume applies them again.
  std::set<std::uint32_t> lost_early;
  bool selected = false;
  bool late_joined = false;
  std::map<std::uint32_t, std::vector<float>> points; ///< clustering features, kept while late joiners are due
  run_report report;                  ///< what the run has recorded so far
  std::uint64_t metrics_bytes = 0;    ///< metrics.jsonl's size at this point (a resume cuts it back to it)
  /// strategy.mode=buffered|async, initial phase: `round` counts server steps. The fits in flight
  /// after it are sent again on resume (a fit's result is a function of the client, the model it
  /// was sent and the seed), with the models they were sent; `draws` is the client draw counter.
  std::vector<in_flight::fit> flights;
  std::map<std::uint64_t, std::vector<float>> versions;
  std::uint64_t draws = 0;
};

} // namespace flotilla::fl
