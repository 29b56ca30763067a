#include "runtime/run_plan.hpp"

namespace flotilla::runtime {

run_plan make_run_plan(const config::settings& s, std::shared_ptr<const data::dataset> data) {
  run_plan plan;
  plan.partitions = std::make_shared<const std::vector<data::client_partition>>(data::make_partitions(
    data->train.labels, data->num_classes, s.experiment.total_clients(), s.partition, s.experiment.seed));
  plan.data = std::move(data);
  return plan;
}

run_plan make_run_plan(const config::settings& s) {
  return make_run_plan(s, data::load_dataset(s.data));
}

} // namespace flotilla::runtime
