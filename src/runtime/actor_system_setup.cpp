#include "runtime/actor_system_setup.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <algorithm>
#include <thread>

#include "actors/protocol.hpp"
#include "common/sha256.hpp"
#include "common/small_file.hpp"
#include "config/config.hpp"
#include "config/key_classes.hpp"

namespace flotilla::runtime {

std::uint32_t cores() {
  return std::max(1u, std::thread::hardware_concurrency());
}

actors::transfer_settings transfer_settings_of(const config::settings& s) {
  actors::transfer_settings t;
  t.chunk_floats = std::size_t{s.runtime.chunk_kib} * 1024 / sizeof(float);
  // One chunk at the guard's floor rate (256 KiB/s), twice over, at least 30 s: a request to a
  // node that died is never answered in CAF 0.17, so this is what such a transfer costs.
  t.chunk_timeout_s = std::min(s.experiment.rounds.timeout_s,
                               std::max(30.0, 2.0 * static_cast<double>(s.runtime.chunk_kib) / 256.0));
  t.idle_ttl_s = std::max(1800.0, 3 * s.experiment.rounds.timeout_s);
  return t;
}

bool is_loopback(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "::1" || host == "[::1]" || host == "localhost";
}

std::shared_ptr<actors::node_context> node_context_for(const config::settings& s,
                                                       std::shared_ptr<const data::dataset> data,
                                                       std::shared_ptr<const std::vector<data::client_partition>> partitions) {
  auto model = config::fitted_model(s, *data); // every process fits the same model to the same data
  std::shared_ptr<actors::node_context> ctx;
  try {
    ctx = actors::make_node_context(std::move(data), s.experiment, s.partition, model, s.train, std::move(partitions));
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).rfind("devices.file", 0) == 0) // the fleet's file: a configuration error
      throw config::config_error(std::string(e.what()) + " (scripts/fedscale_devices.py converts FedScale's file)");
    throw;
  }
  if (s.experiment.privacy.on()) {
    ctx->dp_clip = s.experiment.privacy.clip;
    ctx->dp_adaptive = s.experiment.privacy.adaptive_clip;
  }
  ctx->secure_min_members = s.experiment.privacy.min_cluster;
  ctx->async = s.experiment.async;
  if (s.data.test_limit > 0)
    ctx->global_test_rows = std::min(ctx->global_test_rows, s.data.test_limit);
  for (const auto& p : s.profiles)
    for (auto id : p.clients)
      ctx->profiles[id] = actors::client_profile{true, p.cpu, p.mem};
  return ctx;
}

void configure_actor_system(caf::actor_system_config& cfg, const config::runtime_options& rt) {
  actors::add_protocol_types(cfg);
  cfg.load<caf::io::middleman>();
  auto threads = rt.scheduler_threads > 0 ? rt.scheduler_threads : cores();
  cfg.set("scheduler.max-threads", static_cast<std::size_t>(threads));
  cfg.set("logger.console", caf::atom("none"));
  // Heartbeats detect hung nodes; the timeout must exceed the largest transfer (docs/caf-notes.md §5).
  if (rt.heartbeat_s > 0) {
    cfg.set("middleman.heartbeat-interval", caf::timespan{static_cast<std::int64_t>(rt.heartbeat_s * 1e9)});
    cfg.set("middleman.connection-timeout", caf::timespan{static_cast<std::int64_t>(rt.connection_timeout_s * 1e9)});
  }
  if (rt.tls.enabled()) {
    cfg.load<caf::openssl::manager>();
    cfg.set("openssl.certificate", rt.tls.cert);
    cfg.set("openssl.key", rt.tls.key);
    cfg.set("openssl.cafile", rt.tls.ca);
  }
  // CAF's automatic connections stay off: they would open an unguarded plain-TCP port on every
  // interface. Nodes link to each other explicitly instead (link_atom), through each other's
  // guard, in plain TCP or TLS.
}

std::string run_fingerprint(const data::dataset& data, const model::model_spec& model) {
  return model.file_sha256.empty() ? data.fingerprint : data.fingerprint + model_mark + model.file_sha256;
}

std::string run_identity(const config::settings& s, const data::dataset& data, const model::model_spec& model) {
  auto fingerprint = run_fingerprint(data, model);
  const auto& path = s.experiment.devices.file;
  if (!s.experiment.virtual_clock || path.empty()) // clock=wall reads no devices
    return fingerprint;
  auto file = read_small_file(path, std::uintmax_t{256} << 20); // fl::read_devices's bound
  if (!file.ok())
    throw config::config_error("devices.file " + path + " " + file.problem);
  return fingerprint + devices_mark + sha256_hex(file.bytes.data(), file.bytes.size());
}

std::string client_state_dir(const config::settings& s, const std::string& config_json, const std::string& fingerprint) {
  auto base = s.runtime.client_state.empty() ? std::string("flotilla-client-state") : s.runtime.client_state;
  auto id = config_json.empty() ? sha256_hex(fingerprint.data(), fingerprint.size())
                                : config::run_id(nlohmann::json::parse(config_json), fingerprint);
  return base + "/" + id.substr(0, 16);
}

} // namespace flotilla::runtime
