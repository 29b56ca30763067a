#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "config/settings.hpp"

namespace flotilla::runtime {

/// What `flotilla node` was started with.
struct node_options {
  std::string bind = "127.0.0.1"; ///< plain TCP binds to loopback unless told otherwise
  std::uint16_t port = 4242;      ///< 0: any free port (printed)
  config::tls_options tls;
  bool insecure = false;              ///< allow plain TCP on a non-loopback address
  std::string join;                   ///< host:port of a coordinator to join (runtime.listen) instead of listening
  std::vector<std::string> overrides; ///< node-local keys: data.root, runtime.trainers, ...
};

/// Keys a node takes from its own command line rather than from the coordinator's config.
const std::vector<std::string>& node_local_keys();

/// Hosts client actors for coordinators until SIGINT or SIGTERM: each run's coordinator sends
/// its resolved config and the client ids to host; the node loads its own copy of the dataset
/// (cached between runs), refuses a dataset that differs from the coordinator's, and drops a
/// run's clients when the run ends or its coordinator is lost. Returns the exit code.
int serve_node(const node_options& options);

} // namespace flotilla::runtime
