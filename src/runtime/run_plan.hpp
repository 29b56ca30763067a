#pragma once
// What a run is made of before any actor exists, built once per process: the dataset and how its
// training set is split among the clients. Everything that can be refused about them is refused
// while building it, before a run directory exists.
#include <memory>
#include <vector>

#include "config/settings.hpp"
#include "data/dataset.hpp"
#include "data/partition.hpp"

namespace flotilla::runtime {

struct run_plan {
  std::shared_ptr<const data::dataset> data;
  std::shared_ptr<const std::vector<data::client_partition>> partitions; ///< one per client, late joiners included
};

/// Splits `data` as `s` says (the same split in every process: a function of the seed).
run_plan make_run_plan(const config::settings& s, std::shared_ptr<const data::dataset> data);

/// Loads the dataset, then as above.
run_plan make_run_plan(const config::settings& s);

} // namespace flotilla::runtime
