#pragma once
#include <caf/all.hpp>

#include <functional>
#include <memory>

#include "config/settings.hpp"
#include "data/dataset.hpp"
#include "data/partition.hpp"
#include "fl/checkpoint.hpp"
#include "fl/run_report.hpp"

namespace flotilla::runtime {

/// Test hook: may replace client `id` with another actor (a failing or silent double);
/// returning an invalid handle keeps the real client.
using client_override = std::function<caf::actor(caf::actor_system&, std::uint32_t id)>;

/// A run that could not complete: the class of its cause decides the exit code.
class run_error : public std::runtime_error {
public:
  enum class kind { model, data, config, other };
  run_error(kind k, const std::string& what) : std::runtime_error(what), kind_(k) {}
  kind cause() const { return kind_; }

private:
  kind kind_;
};

/// Runs one whole clustered-FL run: one actor system, a trainer pool, the coordinator, and one
/// actor per client, in this process or, when runtime.nodes is set, spread over those nodes
/// (which then need `config_json`, the resolved config, to build the same partitions). Blocks
/// until the run ends; every actor is stopped before it returns. `finish` sees the finished
/// run's report before the actor system is shut down (so results are written even if CAF's
/// shutdown hangs; a watchdog then ends the process). Throws run_error when the run cannot
/// complete.
fl::run_report run_experiment(const config::settings& s, std::shared_ptr<const data::dataset> data,
                              std::shared_ptr<fl::run_observer> observer, const client_override& override_client = {},
                              const std::string& config_json = "",
                              std::shared_ptr<const fl::checkpoint> resume = nullptr,
                              const std::function<void(fl::run_report&)>& finish = {},
                              std::shared_ptr<const std::vector<data::client_partition>> partitions = nullptr);

/// The first weights of a run: model.init's state_dict, or seeded fresh weights.
std::vector<float> initial_model(const config::settings& s, const model::model_choice& choice);

} // namespace flotilla::runtime
