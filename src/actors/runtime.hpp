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

/// Fills a CAF config the way every Flotilla node needs it: protocol types, middleman,
/// scheduler threads (CAF's default is max(cores, 4), too many beside the trainers).
void configure_actor_system(caf::actor_system_config& cfg, std::uint32_t scheduler_threads);

/// Runs one whole clustered-FL run in this process: one actor system, a trainer pool, one
/// actor per client, the coordinator. Blocks until the run ends; every actor is stopped
/// before it returns. Throws std::runtime_error when the run cannot complete.
fl::run_report run_simulation(const app::settings& s, std::shared_ptr<const data::dataset> data,
                              std::shared_ptr<fl::run_observer> observer,
                              const client_override& override_client = {});

} // namespace flotilla::actors
