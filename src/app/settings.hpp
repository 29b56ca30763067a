#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "data/partition.hpp"
#include "model/train_options.hpp"

namespace flotilla::app {

/// A simulated device's standing load, replacing the host's measured figures for the listed
/// clients so a heterogeneous fleet can be studied on one machine.
struct device_profile {
  std::vector<std::uint32_t> clients;
  double cpu = 0; ///< background CPU load, percent
  double mem = 0; ///< memory in use by others, percent
};

struct round_settings {
  std::uint32_t initial = 3;
  std::uint32_t cluster = 3;
  double fraction_fit = 1.0; ///< share of clients asked to train in each initial round
  double quorum = 0.5;       ///< share of asked clients that must answer for a round to count
  double timeout_s = 600;    ///< per-request deadline for training and evaluation
};

struct clustering_settings {
  std::uint32_t k = 2;
  std::uint32_t restarts = 10;
  std::uint32_t max_iterations = 100;
  std::uint32_t sketch_dim = 0; ///< 0: cluster on full weights; else a seeded random projection
};

/// Mutual TLS between nodes (caf_openssl): all three set, or none (plain TCP).
struct tls_settings {
  std::string cert, key, ca;
  bool enabled() const { return !cert.empty() || !key.empty() || !ca.empty(); }
};

struct runtime_settings {
  std::uint32_t trainers = 0;          ///< 0: one per core
  std::uint32_t scheduler_threads = 0; ///< 0: one per core
  std::vector<std::string> nodes;      ///< host:port of `flotilla node`s; empty: all in-process
  std::string placement = "round_robin"; ///< round_robin | block
  double heartbeat_s = 1.0;
  double connection_timeout_s = 30.0;  ///< must exceed the transfer time of the largest message
  std::uint32_t connect_attempts = 10;
  tls_settings tls;
};

/// Checks that TLS files are all given and readable (CAF 0.17.6 hangs on a bad client
/// certificate path). Throws config_error naming the file; `prefix` names the flags.
void check_tls_files(const tls_settings& tls, const std::string& prefix);

struct output_settings {
  std::string dir = "runs";
  std::string run_dir;
  bool save_models = true;
  std::string progress = "auto"; ///< auto | bar | lines | off
};

/// The resolved configuration as typed values; built from JSON by settings_from.
struct settings {
  std::string name;
  std::uint64_t seed = 42;
  std::uint32_t clients = 10;
  data::data_options data;
  data::partition_options partition;
  std::string model = "cnn";
  std::string model_init; ///< state_dict file of the initial global model; empty: seeded weights
  model::train_options train;
  round_settings rounds;
  clustering_settings clustering;
  std::vector<device_profile> profiles;
  runtime_settings runtime;
  output_settings output;
};

/// Reads and range-checks a resolved configuration. Throws config_error naming the key and
/// the allowed values.
settings settings_from(const nlohmann::json& config);

} // namespace flotilla::app
