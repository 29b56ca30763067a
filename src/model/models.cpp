#include "model/models.hpp"

#include <map>
#include <mutex>

#include "model/model_error.hpp"
#include "model/model_spec.hpp"
#include "model/weights.hpp"

namespace flotilla::model {

namespace nn = torch::nn;

namespace {

// ~80k parameters: small enough that a round over all of MNIST takes seconds on one core.
nn::Sequential small_cnn() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 16, /*kernel_size=*/5)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(16, 32, /*kernel_size=*/5)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Flatten(),
                        nn::Linear(32 * 4 * 4, 128), nn::ReLU(), nn::Linear(128, 10));
}

// McMahan et al. 2017, "CNN" for MNIST: 1,663,370 parameters.
nn::Sequential mcmahan_cnn() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 32, /*kernel_size=*/5).padding(2)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(32, 64, /*kernel_size=*/5).padding(2)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Flatten(),
                        nn::Linear(64 * 7 * 7, 512), nn::ReLU(), nn::Linear(512, 10));
}

// Three 3x3 conv blocks for 32x32 RGB: ~190k parameters.
nn::Sequential cifar_cnn() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, 32, /*kernel_size=*/3).padding(1)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(32, 64, /*kernel_size=*/3).padding(1)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(64, 64, /*kernel_size=*/3).padding(1)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Flatten(),
                        nn::Linear(64 * 4 * 4, 128), nn::ReLU(), nn::Linear(128, 10));
}

// One hidden layer of 100,000 units: 79,500,010 parameters, 318 MB of weights. Not for
// accuracy: it is the built-in model larger than any one message (the guard's 64 MiB cap), to
// run and test chunked transfers between nodes.
nn::Sequential wide_mlp() {
  return nn::Sequential(nn::Flatten(), nn::Linear(28 * 28, 100000), nn::ReLU(), nn::Linear(100000, 10));
}

struct model_entry {
  const char* name;
  std::size_t channels, height, width; // input image shape
  std::size_t classes;                 // outputs: one score per class
  nn::Sequential (*build)();
  const char* description;
};

// Every registered model. Adding one is one entry here plus its PyTorch twin (same layer
// order, so the same state_dict keys) in scripts/flotilla_models.py.
const model_entry registry[] = {
  {"cnn", 1, 28, 28, 10, small_cnn, "two 5x5 conv layers, 80,202 parameters: seconds per MNIST round"},
  {"mcmahan_cnn", 1, 28, 28, 10, mcmahan_cnn, "McMahan et al. 2017's MNIST CNN, 1,663,370 parameters"},
  {"cifar_cnn", 3, 32, 32, 10, cifar_cnn, "three 3x3 conv blocks for 32x32 RGB, 188,810 parameters"},
  {"wide_mlp", 1, 28, 28, 10, wide_mlp, "784-100000-10 MLP, 79,500,010 parameters (318 MB): tests transfers "
                                    "beyond one message"},
};

const model_entry& entry_of(const std::string& name) {
  for (const auto& e : registry)
    if (name == e.name)
      return e;
  std::string known;
  for (const auto& e : registry)
    known += (known.empty() ? "" : ", ") + std::string(e.name);
  throw model_error("unknown model '" + name + "' (known: " + known + ")");
}

// Module constructors draw from torch's global generator. Every build holds this lock, so an
// unseeded build in one thread cannot slip between another thread's seeding and its build.
std::mutex build_mutex;

} // namespace

torch::nn::Sequential make_model(const std::string& name) {
  const auto& entry = entry_of(name);
  std::lock_guard<std::mutex> guard(build_mutex);
  return entry.build();
}

torch::nn::Sequential make_model(const std::string& name, std::uint64_t seed) {
  const auto& entry = entry_of(name);
  std::lock_guard<std::mutex> guard(build_mutex);
  torch::manual_seed(seed);
  return entry.build();
}

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& e : registry)
      out.emplace_back(e.name);
    return out;
  }();
  return names;
}

model_spec spec_of(const std::string& name) {
  // Config validation and every trainer ask; building mcmahan_cnn each time costs milliseconds.
  static std::mutex mutex;
  static std::map<std::string, model_spec> cache;
  {
    std::lock_guard<std::mutex> guard(mutex);
    if (auto it = cache.find(name); it != cache.end())
      return it->second;
  }
  const auto& entry = entry_of(name);
  auto net = make_model(name);
  model_spec spec;
  spec.name = entry.name;
  spec.description = entry.description;
  spec.channels = entry.channels;
  spec.height = entry.height;
  spec.width = entry.width;
  spec.classes = entry.classes;
  spec.parameters = parameter_count(*net);
  spec.layout = layout_id(*net);
  std::lock_guard<std::mutex> guard(mutex);
  return cache.emplace(name, spec).first->second;
}

} // namespace flotilla::model
