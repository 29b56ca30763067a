#include "actors/node_context.hpp"

#include <algorithm>
#include <cmath>
#include <thread>

#include "data/rotation.hpp"
#include "fl/attack.hpp"

namespace flotilla::actors {

namespace {
std::int64_t degree_key(double degrees) {
  return std::llround(degrees * 1000);
}
} // namespace

const std::vector<std::int32_t>& node_context::pixel_map(std::uint32_t id) const {
  static const std::vector<std::int32_t> none;
  if (id >= partitions().size())
    return none;
  auto it = rotation_maps.find(degree_key(partitions()[id].rotation_degrees));
  return it == rotation_maps.end() ? none : it->second;
}

const std::vector<std::int64_t>& node_context::training_labels(std::uint32_t id) const {
  static const std::vector<std::int64_t> none;
  return id < train_label_maps.size() ? train_label_maps[id] : none;
}

bool node_context::attacker(std::uint32_t id) const {
  return std::find(attack.clients.begin(), attack.clients.end(), id) != attack.clients.end();
}

std::shared_ptr<node_context> make_node_context(std::shared_ptr<const data::dataset> data,
                                                const fl::experiment& experiment,
                                                const data::partition_options& partition,
                                                const model::model_choice& model,
                                                const model::train_options& train,
                                                std::shared_ptr<const std::vector<data::client_partition>> partitions) {
  auto ctx = std::make_shared<node_context>();
  ctx->seed = experiment.seed;
  auto clients = experiment.total_clients();
  // The run plan's partitions when the caller has them (computed once per process), else here.
  if (partitions && partitions->size() != clients)
    throw std::invalid_argument("make_node_context: " + std::to_string(partitions->size()) + " partitions for " +
                                std::to_string(clients) + " clients");
  ctx->partition_list = partitions ? std::move(partitions)
                                   : std::make_shared<const std::vector<data::client_partition>>(
                                       data::partition_dataset(*data, clients, partition, experiment.seed));
  for (const auto& p : ctx->partitions()) {
    auto key = degree_key(p.rotation_degrees);
    if (!ctx->rotation_maps.count(key))
      ctx->rotation_maps[key] = data::rotation_map(data->train.height, data->train.width, p.rotation_degrees);
  }
  ctx->global_test_rows = data->test.count;
  ctx->data = std::move(data);
  ctx->model_choice = model;
  ctx->model = model::spec_of(model);
  ctx->train = train;
  ctx->attack = experiment.attack;
  for (std::uint32_t id = 0; id < ctx->partitions().size(); ++id)
    ctx->train_label_maps.push_back(ctx->attacker(id) && ctx->attack.kind == "label_flip"
                                      ? fl::flipped_labels(ctx->partitions()[id].label_map, ctx->data->num_classes)
                                      : ctx->partitions()[id].label_map);
  ctx->profiles.resize(clients);
  ctx->max_layer_versions = std::uint64_t{experiment.rounds.initial} + experiment.rounds.cluster + 2;
  if (experiment.virtual_clock) {
    // Every process draws the same fleet from the seed (or reads the same file). A client's
    // CPU and memory readings are its device's, so the seed's selection sees the fleet too.
    auto devices = fl::make_devices(experiment.devices, experiment.seed, clients);
    std::vector<std::uint64_t> samples;
    samples.reserve(clients);
    for (std::uint32_t id = 0; id < clients; ++id) {
      samples.push_back(ctx->partitions()[id].train_size());
      ctx->profiles[id] = client_profile{true, devices[id].cpu, devices[id].mem};
    }
    ctx->clock = std::make_shared<const fl::device_clock>(
      std::move(devices), std::move(samples), train.batch_size, ctx->model.parameters * sizeof(float),
      fl::availability_options{experiment.devices.online_s, experiment.devices.offline_s}, experiment.seed);
  }
  ctx->cores = std::max(1u, std::thread::hardware_concurrency());
  return ctx;
}

} // namespace flotilla::actors
