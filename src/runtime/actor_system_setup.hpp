#pragma once
#include <caf/all.hpp>

#include <string>

#include "actors/blob_transfer.hpp"
#include "actors/node_context.hpp"
#include "config/settings.hpp"

namespace flotilla::runtime {

/// Fills a CAF config the way every Flotilla process needs it: protocol types and error
/// category, middleman, scheduler threads (CAF's default is max(cores, 4), too many beside the
/// trainers), heartbeats and connection timeout, and TLS (caf_openssl, for the connections
/// this process opens) when configured.
void configure_actor_system(caf::actor_system_config& cfg, const config::runtime_options& rt);

/// How this process moves large weights (runtime.chunk_kib; a chunk request waits up to
/// rounds.timeout_s).
actors::transfer_settings transfer_settings_of(const config::settings& s);

/// True for 127.0.0.0/8, ::1 and localhost.
bool is_loopback(const std::string& host);

/// What every actor of a run on this process shares: partitions, model, training settings and
/// the simulated device profiles, built the same way on the coordinator's side and on nodes.
std::shared_ptr<actors::node_context> node_context_for(
  const config::settings& s, std::shared_ptr<const data::dataset> data,
  std::shared_ptr<const std::vector<data::client_partition>> partitions = nullptr);

/// What a node must share with the coordinator, byte for byte: the data's fingerprint, then for
/// a TorchScript model model_mark and its file's SHA-256 (the run id hashes the same text).
inline const std::string model_mark = " model ";
std::string run_fingerprint(const data::dataset& data, const model::model_spec& model);

/// What config::run_id hashes beside the configuration: run_fingerprint, then, when devices.file
/// is read (set, clock=virtual), devices_mark and the file's SHA-256, so a resume with an edited
/// device file is refused as another run. Nodes are sent run_fingerprint alone (they check the
/// data and model against it). Throws config::config_error when the file cannot be read.
inline const std::string devices_mark = " devices ";
std::string run_identity(const config::settings& s, const data::dataset& data, const model::model_spec& model);

/// Where this machine's clients of the run keep their own state (FedBN's layer histories):
/// runtime.client_state (default ./flotilla-client-state) / the first 16 hex digits of the run
/// id, computed from the coordinator's resolved config (`config_json`) so a node finds the same
/// directory when the run resumes.
std::string client_state_dir(const config::settings& s, const std::string& config_json, const std::string& fingerprint);

/// This machine's cores (at least 1).
std::uint32_t cores();

} // namespace flotilla::runtime
