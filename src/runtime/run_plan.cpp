#include "runtime/run_plan.hpp"

#include "config/config.hpp"

namespace flotilla::runtime {

run_plan make_run_plan(const config::settings& s, std::shared_ptr<const data::dataset> data) {
  run_plan plan;
  plan.model = config::fitted_model(s, *data);
  plan.partitions = std::make_shared<const std::vector<data::client_partition>>(
    data::partition_dataset(*data, s.experiment.total_clients(), s.partition, s.experiment.seed));
  plan.data = std::move(data);
  return plan;
}

run_plan make_run_plan(const config::settings& s) {
  return make_run_plan(s, data::load_dataset(s.data));
}

std::shared_ptr<const data::dataset> resolve_all_clients(nlohmann::json& doc) {
  if (!doc.contains("clients") || !doc["clients"].is_number() || doc["clients"].get<double>() != 0)
    return nullptr;
  // Every other key is read and checked as usual, with a client count that no check refuses.
  auto probe = doc;
  probe["clients"] = 1000000;
  auto s = config::settings_from(probe);
  if (s.partition.scheme != "natural")
    return nullptr; // settings_from(doc) refuses clients = 0 with the reason
  auto data = data::load_dataset(s.data);
  auto ids = data->natural_ids.size();
  auto late = s.experiment.late_clients;
  if (ids == 0)
    throw config::config_error("clients = 0 takes every natural client, but data.dataset=" + s.data.dataset +
                               " has no client ids; give a number of clients and another partition.scheme, or "
                               "data with client ids (client_train in a tensors file, LEAF's users)");
  if (ids <= late)
    throw config::config_error("clients = 0 takes every natural client of data.dataset=" + s.data.dataset + ", " +
                               std::to_string(ids) + ", but late_clients = " + std::to_string(late) +
                               " leaves none to start; lower late_clients");
  doc["clients"] = ids - late;
  return data;
}

} // namespace flotilla::runtime
