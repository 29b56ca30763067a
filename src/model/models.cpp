#include "model/models.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include "model/model_error.hpp"
#include "model/model_spec.hpp"
#include "model/script_model.hpp"
#include "model/weights.hpp"

namespace flotilla::model {

namespace nn = torch::nn;

namespace {

using input_size = std::int64_t;

input_size flat_input(const model_choice& c) {
  return static_cast<input_size>(c.channels * c.height * c.width);
}

input_size classes_of(const model_choice& c) {
  return static_cast<input_size>(c.classes);
}

// ~80k parameters: small enough that a round over all of MNIST takes seconds on one core.
nn::Sequential small_cnn(const model_choice& c) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 16, /*kernel_size=*/5)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(16, 32, /*kernel_size=*/5)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Flatten(),
                        nn::Linear(32 * 4 * 4, 128), nn::ReLU(), nn::Linear(128, classes_of(c)));
}

// McMahan et al. 2017, "CNN" for MNIST: 1,663,370 parameters.
nn::Sequential mcmahan_cnn(const model_choice& c) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 32, /*kernel_size=*/5).padding(2)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(32, 64, /*kernel_size=*/5).padding(2)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Flatten(),
                        nn::Linear(64 * 7 * 7, 512), nn::ReLU(), nn::Linear(512, classes_of(c)));
}

// Three 3x3 conv blocks for 32x32 RGB: ~190k parameters.
nn::Sequential cifar_cnn(const model_choice& c) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, 32, /*kernel_size=*/3).padding(1)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(32, 64, /*kernel_size=*/3).padding(1)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(64, 64, /*kernel_size=*/3).padding(1)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Flatten(),
                        nn::Linear(64 * 4 * 4, 128), nn::ReLU(), nn::Linear(128, classes_of(c)));
}

// One hidden layer of 100,000 units: 79,500,010 parameters, 318 MB of weights. Not for
// accuracy: it is the built-in model larger than any one message (the guard's 64 MiB cap), to
// run and test chunked transfers between nodes.
nn::Sequential wide_mlp(const model_choice& c) {
  return nn::Sequential(nn::Flatten(), nn::Linear(28 * 28, 100000), nn::ReLU(), nn::Linear(100000, classes_of(c)));
}

// Multinomial logistic regression: the convex model of the FedProx paper's synthetic and MNIST
// experiments.
nn::Sequential mclr(const model_choice& c) {
  return nn::Sequential(nn::Flatten(), nn::Linear(flat_input(c), classes_of(c)));
}

// Fully connected ReLU layers of model.hidden's sizes (McMahan et al.'s "2NN" is 200, 200).
nn::Sequential mlp(const model_choice& c) {
  nn::Sequential net{nn::Flatten()};
  auto in = flat_input(c);
  for (auto h : c.hidden) {
    net->push_back(nn::Linear(in, static_cast<input_size>(h)));
    net->push_back(nn::ReLU());
    in = static_cast<input_size>(h);
  }
  net->push_back(nn::Linear(in, classes_of(c)));
  return net;
}

struct model_entry {
  const char* name;
  std::size_t channels, height, width; // the input shape it takes; 0 = any (the model flattens)
  nn::Sequential (*build)(const model_choice&);
  const char* description;
};

// Every registered model. Adding one is one entry here plus its PyTorch twin (same layer
// order, so the same state_dict keys) in scripts/flotilla_models.py. Classes come from the data.
const model_entry registry[] = {
  {"cnn", 1, 28, 28, small_cnn, "two 5x5 conv layers, 80,202 parameters: seconds per MNIST round"},
  {"mcmahan_cnn", 1, 28, 28, mcmahan_cnn, "McMahan et al. 2017's MNIST CNN, 1,663,370 parameters"},
  {"cifar_cnn", 3, 32, 32, cifar_cnn, "three 3x3 conv blocks for 32x32 RGB, 188,810 parameters"},
  {"wide_mlp", 1, 28, 28, wide_mlp, "784-100000-10 MLP, 79,500,010 parameters (318 MB): tests transfers "
                                    "beyond one message"},
  {"mclr", 0, 0, 0, mclr, "multinomial logistic regression on the flattened sample (FedProx's convex model)"},
  {"mlp", 0, 0, 0, mlp, "fully connected ReLU layers of model.hidden's sizes on the flattened sample"},
  {"torchscript", 0, 0, 0, make_script_model, "your own PyTorch module: torch.jit.save(torch.jit.script(model), "
                                             "model.file)"},
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

// 1e9 floats are 4 GB of weights: beyond what a client, let alone a cluster of them, holds here.
constexpr double max_parameters = 1e9;

std::string shape_text(std::size_t c, std::size_t h, std::size_t w) {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

// Refuses what the build would fail on (or silently build wrong) with a message saying why.
const model_entry& checked_entry(const model_choice& choice) {
  const auto& e = entry_of(choice.name);
  if (!takes_input(choice.name, choice.channels, choice.height, choice.width))
    throw model_error("model " + choice.name + " takes " + shape_text(e.channels, e.height, e.width) +
                      " samples, not " + shape_text(choice.channels, choice.height, choice.width) +
                      "; use mclr or mlp for other shapes");
  if (choice.classes < 1)
    throw model_error("model " + choice.name + " needs at least one class; the data has none");
  if (choice.channels * choice.height * choice.width == 0)
    throw model_error("model " + choice.name + " cannot take empty samples (" +
                      shape_text(choice.channels, choice.height, choice.width) + ")");
  if (std::string(e.name) == "torchscript") {
    if (choice.file.empty())
      throw model_error("model.name=torchscript reads model.file: set it to the file torch.jit.save wrote");
    return e; // its size is the file's, bounded by the archive checks
  }
  if (std::string(e.name) == "mlp") {
    if (choice.hidden.empty())
      throw model_error("model mlp needs hidden layer sizes: set model.hidden, e.g. [200, 200]");
    for (auto h : choice.hidden)
      if (h < 1)
        throw model_error("model.hidden sizes must be at least 1");
  }
  // The data decides mclr's and mlp's size (features x classes): count before building, in
  // doubles (no overflow), so a file declaring millions of features and classes is refused
  // instead of exhausting memory in the build.
  if (e.channels == 0) {
    double in = static_cast<double>(choice.channels) * static_cast<double>(choice.height) * static_cast<double>(choice.width);
    double count = 0;
    for (auto h : choice.hidden) {
      if (std::string(e.name) != "mlp")
        break;
      count += (in + 1) * static_cast<double>(h);
      in = static_cast<double>(h);
    }
    count += (in + 1) * static_cast<double>(choice.classes);
    if (count > max_parameters)
      throw model_error(choice.describe() + " would hold " + std::to_string(static_cast<long long>(count)) +
                        " parameters, more than " + std::to_string(static_cast<long long>(max_parameters)) +
                        "; the data's sample size and classes make it: fewer features or classes, or smaller "
                        "model.hidden");
  }
  return e;
}

// Module constructors draw from torch's global generator. Every build holds this lock, so an
// unseeded build in one thread cannot slip between another thread's seeding and its build.
std::mutex build_mutex;

} // namespace

model_choice::model_choice(std::string model) : name(std::move(model)) {
  if (name == "mlp")
    hidden = {200, 200}; // config/default.json's model.hidden: McMahan et al.'s 2NN
  for (const auto& e : registry)
    if (name == e.name && e.channels > 0) {
      channels = e.channels;
      height = e.height;
      width = e.width;
    }
}

std::string model_choice::describe() const {
  std::string out = name + " (" + shape_text(channels, height, width);
  if (name == "torchscript")
    out = name + " " + file + " (" + shape_text(channels, height, width) + (buffers == "local" ? ", local norm" : "");
  if (name == "mlp")
    for (auto h : hidden)
      out += " -> " + std::to_string(h);
  return out + " -> " + std::to_string(classes) + ")";
}

bool takes_input(const std::string& name, std::size_t channels, std::size_t height, std::size_t width) {
  const auto& e = entry_of(name);
  return e.channels == 0 || (e.channels == channels && e.height == height && e.width == width);
}

std::string input_text(const std::string& name) {
  const auto& e = entry_of(name);
  return e.channels == 0 ? "any" : shape_text(e.channels, e.height, e.width);
}

torch::nn::Sequential make_model(const model_choice& choice) {
  const auto& entry = checked_entry(choice);
  std::lock_guard<std::mutex> guard(build_mutex);
  return entry.build(choice);
}

torch::nn::Sequential make_model(const model_choice& choice, std::uint64_t seed) {
  const auto& entry = checked_entry(choice);
  std::lock_guard<std::mutex> guard(build_mutex);
  torch::manual_seed(seed);
  return entry.build(choice);
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

model_spec spec_of(const model_choice& choice) {
  // Config validation and every trainer ask; building mcmahan_cnn each time costs milliseconds.
  static std::mutex mutex;
  static std::map<std::string, model_spec> cache;
  auto key = choice.describe();
  if (choice.name == "torchscript" && !choice.file.empty())
    key += " " + script_sha256(choice.file); // a file saved again at the same path is another model
  {
    std::lock_guard<std::mutex> guard(mutex);
    if (auto it = cache.find(key); it != cache.end())
      return it->second;
  }
  const auto& entry = checked_entry(choice);
  auto net = make_model(choice);
  model_spec spec;
  spec.name = entry.name;
  spec.description = entry.description;
  spec.channels = choice.channels;
  spec.height = choice.height;
  spec.width = choice.width;
  spec.classes = choice.classes;
  spec.parameters = parameter_count(*net);
  spec.layout = layout_id(*net);
  if (spec.name == "torchscript") {
    check_script_output(choice);
    auto state = script_state(net);
    if (choice.buffers == "local" &&
        std::none_of(state.begin(), state.end(), [](const script_entry& e) { return e.norm; }))
      throw model_error("model.buffers=local keeps BatchNorm layers on the clients (FedBN), but the module in " +
                        choice.file + " has none; use model.buffers=average, or a module with BatchNorm layers");
    spec.file_sha256 = script_sha256(choice.file);
    spec.description = "TorchScript module " + choice.file + " (SHA-256 " + spec.file_sha256.substr(0, 12) + ")";
    std::size_t offset = 0;
    for (const auto& e : script_state(net)) {
      if (!e.federated)
        continue;
      auto n = static_cast<std::size_t>(e.value.numel());
      if (e.norm) {
        if (!spec.norm_ranges.empty() && spec.norm_ranges.back().first + spec.norm_ranges.back().second == offset)
          spec.norm_ranges.back().second += n;
        else
          spec.norm_ranges.emplace_back(offset, n);
      }
      offset += n;
    }
  }
  std::lock_guard<std::mutex> guard(mutex);
  return cache.emplace(key, spec).first->second;
}

} // namespace flotilla::model
