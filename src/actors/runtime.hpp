#pragma once
#include <caf/all.hpp>

#include <functional>
#include <memory>

#include "app/settings.hpp"
#include "data/dataset.hpp"
#include "fl/run_report.hpp"

namespace flotilla::actors {

/// Test hook: may replace client `id` with another actor (a failing or silent double);
/// returning an invalid handle keeps the real client.
using client_override = std::function<caf::actor(caf::actor_system&, std::uint32_t id)>;

/// Fills a CAF config the way every Flotilla process needs it: protocol types, middleman,
/// scheduler threads (CAF's default is max(cores, 4), too many beside the trainers),
/// heartbeats and connection timeout, and TLS (caf_openssl) when configured. With
/// `direct_links`, nodes open connections to each other as needed (CAF's automatic
/// connections) so members reach their cluster server without a relay.
void configure_actor_system(caf::actor_system_config& cfg, const app::runtime_settings& rt,
                            bool direct_links = false);

/// True for 127.0.0.0/8, ::1 and localhost.
bool is_loopback(const std::string& host);

/// Runs one whole clustered-FL run: one actor system, a trainer pool, the coordinator, and one
/// actor per client, in this process or, when runtime.nodes is set, spread over those nodes
/// (which then need `config_json`, the resolved config, to build the same partitions). Blocks
/// until the run ends; every actor is stopped before it returns. Throws std::runtime_error
/// when the run cannot complete.
fl::run_report run_simulation(const app::settings& s, std::shared_ptr<const data::dataset> data,
                              std::shared_ptr<fl::run_observer> observer,
                              const client_override& override_client = {}, const std::string& config_json = "");

} // namespace flotilla::actors
