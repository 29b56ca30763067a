#pragma once
// What the coordinator's clustering will hold, estimated from the configuration alone, and the
// refusal of settings that would exhaust the machine (issue 15, finding 1). Checked where a
// coordinator runs (run, resume, config), never on a node.
#include <cstdint>
#include <string>

#include "config/settings.hpp"

namespace flotilla::config {

/// The coordinator's peak memory for clustering, estimated from the configuration alone.
struct memory_estimate {
  std::uint64_t bytes = 0;
  std::string what;  ///< the terms, e.g. "40 clients x 16777216 features (clustering.sketch_dim) x 4 bytes"
  std::string lower; ///< the keys that reduce it
};

/// What the coordinator holds at once around clustering: every clustered client's features
/// (clients + late_clients, each clustering.sketch_dim floats, or the model's weights when
/// sketch_dim is 0), the received weights a strategy that keeps every update holds besides
/// sketches, the updates agglomerative average linkage derives, and the n x n distance
/// matrices (pairwise distances, silhouette, PCA).
/// `parameters` is the model's size on the run's data.
memory_estimate coordinator_memory(const settings& s, std::uint64_t parameters);

/// The model's size when the dataset table knows the data's shape and classes without reading
/// it; 0 for data of one's own (run and resume check again with the data read).
std::uint64_t parameters_before_data(const settings& s);

/// As above with parameters_before_data.
memory_estimate coordinator_memory(const settings& s);

/// Refuses (config_error naming the alternatives) a run across nodes whose strategy state cannot
/// cross them: weights travel in chunks, a strategy's state buffers inline (at most 64 MiB).
void check_transfers(const settings& s, std::uint64_t parameters);

/// check_transfers, then refuses (config_error with the estimate in GiB and what to lower) settings whose
/// coordinator_memory exceeds half of `memory_bytes`: the process also holds the dataset, the
/// models, the trainers' work and the clients of a threaded run.
void check_memory(const settings& s, std::uint64_t memory_bytes, std::uint64_t parameters);

/// As above with parameters_before_data.
void check_memory(const settings& s, std::uint64_t memory_bytes);

/// This machine's memory for check_memory: /proc/meminfo's MemTotal, or the address-space
/// limit (ulimit -v) when that is lower; 0 when neither can be read (nothing is refused).
std::uint64_t machine_memory_bytes();

} // namespace flotilla::config
