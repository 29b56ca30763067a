#pragma once
// The resolved configuration as typed values, read from JSON in one step. Every default lives
// in config/default.json and nowhere else: these structs only hold what was read.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "data/partition.hpp"
#include "fl/experiment.hpp"
#include "model/model_spec.hpp"
#include "model/train_options.hpp"

namespace flotilla::config {

/// A simulated device's standing load, replacing the host's measured figures for the listed
/// clients so a heterogeneous fleet can be studied on one machine.
struct device_profile {
  std::vector<std::uint32_t> clients;
  double cpu = 0; ///< background CPU load, percent
  double mem = 0; ///< memory in use by others, percent
};

/// Mutual TLS between nodes: all three files, or none (plain TCP).
struct tls_options {
  std::string cert, key, ca;
  bool enabled() const { return !cert.empty() || !key.empty() || !ca.empty(); }
};

struct runtime_options {
  std::uint32_t trainers = 0;          ///< 0: one per core
  std::uint32_t scheduler_threads = 0; ///< 0: one per core
  std::vector<std::string> nodes;      ///< host:port of `flotilla node`s; empty: all in-process
  std::string placement;               ///< round_robin | block
  bool link_nodes = true;              ///< nodes connect to each other directly (else relayed by us)
  double heartbeat_s = 0;
  double connection_timeout_s = 0;     ///< must exceed the transfer time of the largest message
  std::uint32_t connect_attempts = 0;
  std::uint32_t chunk_kib = 8192;      ///< weights above this cross processes in chunks of this size
  /// Where clients keep what never leaves their machine (FedBN's layers), a directory per run
  /// under it. Empty: the run directory's client_state (a node: ./flotilla-client-state).
  std::string client_state;
  double liveness_s = 10;              ///< the coordinator pings each cluster server this often (0: never)
  double wall_timeout_s = 600;         ///< clock=virtual: the wall-clock limit of one request (a real hang)
  double async_checkpoint_s = 30;      ///< least wall seconds between checkpoints of asynchronous steps
  tls_options tls;
  std::uint32_t listen = 0;            ///< port where `flotilla node --join` reaches the coordinator (0: none)
};

struct output_options {
  std::string dir;
  std::string run_dir;
  bool save_models = false;
  bool overwrite = false; ///< clear a non-empty output.run_dir instead of refusing it
  std::string progress; ///< auto | bar | lines | off
};

struct model_options {
  std::string name;
  std::string init;                ///< a state_dict to start from (empty: seeded fresh weights)
  std::vector<std::size_t> hidden; ///< mlp's hidden layer sizes
  std::string file;                ///< torchscript: the module's file (machine-local)
  std::string buffers;             ///< average | local (FedBN: BatchNorm layers stay on the clients)
};

struct settings {
  std::string name;
  fl::experiment experiment;
  data::data_options data;
  data::partition_options partition;
  model_options model;
  model::train_options train;
  std::vector<device_profile> profiles;
  runtime_options runtime;
  output_options output;
};

/// Reads and range-checks a resolved configuration. Throws config_error naming the key and
/// the allowed values.
settings settings_from(const nlohmann::json& doc);

/// The model `s` asks for on samples of `shape` with `classes` classes (the data's). Throws
/// config_error when the model does not take them, naming the models that do.
model::model_choice fitted_model(const settings& s, const data::image_shape& shape, std::size_t classes);

/// The same on loaded data (its sample shape and classes).
model::model_choice fitted_model(const settings& s, const data::dataset& data);

/// True for "host:port" with a non-empty host and a port from 1 to 65535.
bool is_host_port(const std::string& text);

/// Checks that TLS files are all given and readable (CAF 0.17.6 hangs on a bad client
/// certificate path). Throws config_error naming the file; `prefix` names the flags.
void check_tls_files(const tls_options& tls, const std::string& prefix);

} // namespace flotilla::config
