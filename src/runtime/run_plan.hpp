#pragma once
// What a run is made of before any actor exists, built once per process: the dataset, how its
// training set is split among the clients, and the model chosen for it. Everything that can be
// refused about them is refused while building it, before a run directory exists.
#include <nlohmann/json.hpp>

#include <memory>
#include <vector>

#include "config/settings.hpp"
#include "data/dataset.hpp"
#include "data/partition.hpp"
#include "model/model_spec.hpp"

namespace flotilla::runtime {

struct run_plan {
  std::shared_ptr<const data::dataset> data;
  std::shared_ptr<const std::vector<data::client_partition>> partitions; ///< one per client, late joiners included
  model::model_choice model; ///< model.name on this data's sample shape and classes
};

/// Splits `data` as `s` says (the same split in every process: a function of the seed) and fits
/// the model to it. Throws config_error when the model does not take the data.
run_plan make_run_plan(const config::settings& s, std::shared_ptr<const data::dataset> data);

/// Loads the dataset, then as above.
run_plan make_run_plan(const config::settings& s);

/// `clients = 0` with partition.scheme=natural means every natural client of the data: reads the
/// data and writes its count (less late_clients) into `doc`, so every later reader (settings, the
/// run's config.json, nodes, a resume) sees the number. Returns the data it read (null when
/// `clients` was not 0), for make_run_plan to reuse.
std::shared_ptr<const data::dataset> resolve_all_clients(nlohmann::json& doc);

} // namespace flotilla::runtime
