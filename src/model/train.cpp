#include "model/train.hpp"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#include "model/model_error.hpp"
#include "model/script_model.hpp"

namespace flotilla::model {

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A label map sends every class to a class: each entry must be a valid index into the map.
void check_label_map(const std::vector<std::int64_t>& label_map) {
  auto n = static_cast<std::int64_t>(label_map.size());
  for (std::size_t y = 0; y < label_map.size(); ++y)
    if (label_map[y] < 0 || label_map[y] >= n)
      throw model_error("label_map[" + std::to_string(y) + "] = " + std::to_string(label_map[y]) +
                        " is not a class; entries must be 0 to " + std::to_string(n - 1) +
                        " (one entry per class)");
}

// Reusable buffers for one batch, wrapped as tensors without a copy.
struct batch_buffer {
  std::vector<float> pixels;
  std::vector<std::int64_t> labels;

  std::pair<torch::Tensor, torch::Tensor> fill(const data::split& data, const std::uint32_t* idx,
                                               std::size_t n, const std::vector<std::int32_t>& pixel_map,
                                               const std::vector<std::int64_t>& label_map) {
    pixels.resize(n * data.sample_size());
    labels.resize(n);
    data::gather(data, idx, n, pixel_map, pixels.data(), labels.data());
    if (!label_map.empty())
      for (auto& y : labels) {
        if (y < 0 || static_cast<std::size_t>(y) >= label_map.size())
          throw model_error("label_map has " + std::to_string(label_map.size()) +
                            " entries but a sample has label " + std::to_string(y) +
                            "; give one entry per class");
        y = label_map[static_cast<std::size_t>(y)];
      }
    auto x = torch::from_blob(pixels.data(),
                              {static_cast<long>(n), static_cast<long>(data.channels),
                               static_cast<long>(data.height), static_cast<long>(data.width)});
    auto y = torch::from_blob(labels.data(), {static_cast<long>(n)}, torch::kLong);
    return {x, y};
  }
};

// What to change when the loss is no longer finite. FedProx's term pulls every weight back by
// lr x mu times its distance from the global model each step: from about 1 on, that step
// overshoots and grows (momentum widens the swing), whatever train.lr does to the data's loss.
std::string divergence_fix(const train_options& o) {
  if (o.proximal_mu <= 0)
    return "lower train.lr";
  auto text = [](double v) {
    std::ostringstream out;
    out << v;
    return out.str();
  };
  auto step = o.lr * o.proximal_mu;
  if (step < 1)
    return "lower train.lr (or strategy.proximal_mu = " + text(o.proximal_mu) + ")";
  return "lower strategy.proximal_mu (" + text(o.proximal_mu) + "): with train.lr " + text(o.lr) +
         " FedProx's pull toward the global model steps lr x mu = " + text(step) +
         " times the distance, which overshoots; keep lr x mu well below 1";
}

// The seed of one batch's random draws (a TorchScript module's Dropout): a function of the
// fit's seed and the batch's place only.
std::uint64_t batch_seed(std::uint64_t seed, std::uint64_t epoch, std::uint64_t batch) {
  auto mix = [](std::uint64_t z) { // splitmix64's finalizer
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(seed) ^ epoch) ^ batch);
}

} // namespace

const std::vector<std::string>& fit_value_names() {
  static const std::vector<std::string> names{"epochs", "lr", "proximal_mu"};
  return names;
}

train_options with_fit_values(train_options base, const std::map<std::string, double>& values) {
  base.proximal_mu = 0;
  for (const auto& [key, v] : values) {
    auto refuse = [&, key = key, v = v](const std::string& allowed) {
      std::ostringstream out;
      out << "fit config value '" << key << "' = " << v << " is out of range; allowed: " << allowed;
      return model_error(out.str());
    };
    if (key == "epochs") {
      if (!(v >= 1 && v <= 1000) || v != std::floor(v))
        throw refuse("a whole number, 1 to 1000");
      base.epochs = static_cast<std::uint32_t>(v);
    } else if (key == "lr") {
      if (!(v > 0 && v <= 10))
        throw refuse("above 0, at most 10");
      base.lr = v;
    } else if (key == "proximal_mu") {
      if (!(v >= 0 && v <= 100))
        throw refuse("0 to 100");
      base.proximal_mu = v;
    } else {
      std::string known;
      for (const auto& n : fit_value_names())
        known += (known.empty() ? "" : ", ") + n;
      throw model_error("fit config value '" + key + "' is not one this client trains with; known: " + known);
    }
  }
  return base;
}

train_metrics train(torch::nn::Sequential& net, const data::split& data,
                    const std::vector<std::uint32_t>& indices,
                    const std::vector<std::int32_t>& pixel_map,
                    const std::vector<std::int64_t>& label_map, const train_options& options,
                    std::uint64_t seed) {
  auto wall_start = std::chrono::steady_clock::now();
  auto cpu_start = thread_cpu_seconds();
  if (!(options.proximal_mu >= 0))
    throw model_error("proximal_mu is " + std::to_string(options.proximal_mu) +
                      "; it must be 0 (plain SGD) or more (FedProx)");
  check_label_map(label_map);
  net->train();
  auto params = net->parameters();
  torch::optim::SGD sgd(params, torch::optim::SGDOptions(options.lr)
                                    .momentum(options.momentum)
                                    .weight_decay(options.weight_decay));
  // FedProx: the gradient of mu/2 * |w - w_start|^2 is mu * (w - w_start), added after
  // backward in place (no autograd graph, no per-batch allocation). mu = 0 skips it entirely,
  // so plain SGD stays bit-identical.
  std::vector<torch::Tensor> start;
  auto mu = options.proximal_mu;
  if (mu > 0)
    for (const auto& p : params)
      start.push_back(p.detach().clone());
  std::vector<std::uint32_t> order = indices;
  std::mt19937_64 rng(seed);
  batch_buffer batch;
  train_metrics out;
  auto batch_size = std::max<std::size_t>(1, options.batch_size);
  // A module of one's own may hold BatchNorm, which cannot train on a batch of one sample: its
  // last batch takes a lone remaining sample along (the built-in models batch as they always did).
  const bool script = is_script_model(*net);
  if (script && order.size() == 1 && net->buffers().size() > 0)
    throw model_error("a client with a single training sample cannot train a module with buffers (BatchNorm needs "
                      "two samples a batch); give every client at least two training samples");
  for (std::uint32_t epoch = 0; epoch < options.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    std::size_t n = 0;
    for (std::size_t begin = 0; begin < order.size(); begin += n) {
      n = std::min(batch_size, order.size() - begin);
      if (script && order.size() - begin == batch_size + 1)
        n = batch_size + 1;
      if (script)
        seed_script_forward(*net, batch_seed(seed, epoch, begin));
      auto [x, y] = batch.fill(data, order.data() + begin, n, pixel_map, label_map);
      sgd.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(net->forward(x), y);
      auto value = loss.item<double>();
      if (!std::isfinite(value))
        throw model_error("training diverged: loss is " + std::to_string(value) + " at epoch " +
                          std::to_string(epoch + 1) + ", batch " +
                          std::to_string(begin / batch_size + 1) + "; " + divergence_fix(options));
      loss.backward();
      if (!start.empty()) {
        torch::NoGradGuard no_grad;
        for (std::size_t i = 0; i < params.size(); ++i)
          params[i].mutable_grad().add_(params[i], mu).sub_(start[i], mu);
      }
      sgd.step();
      loss_sum += value * static_cast<double>(n);
    }
    out.loss = order.empty() ? 0 : loss_sum / static_cast<double>(order.size());
    out.samples += order.size();
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  out.cpu_seconds = thread_cpu_seconds() - cpu_start;
  return out;
}

eval_metrics evaluate(torch::nn::Sequential& net, const data::split& data,
                      const std::vector<std::uint32_t>& indices,
                      const std::vector<std::int32_t>& pixel_map,
                      const std::vector<std::int64_t>& label_map, std::size_t batch_size) {
  check_label_map(label_map);
  batch_size = std::max<std::size_t>(1, batch_size);
  torch::NoGradGuard no_grad;
  net->eval();
  std::vector<std::uint32_t> all;
  const auto* idx = &indices;
  if (indices.empty()) {
    all.resize(data.count);
    std::iota(all.begin(), all.end(), 0u);
    idx = &all;
  }
  batch_buffer batch;
  eval_metrics out;
  const bool script = is_script_model(*net); // once, not per batch: built-in models skip the seeding
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (std::size_t begin = 0; begin < idx->size(); begin += batch_size) {
    auto n = std::min(batch_size, idx->size() - begin);
    if (script)
      seed_script_forward(*net, batch_seed(0, 0, begin)); // a module drawing in eval mode draws the same
    auto [x, y] = batch.fill(data, idx->data() + begin, n, pixel_map, label_map);
    auto logits = net->forward(x);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += logits.argmax(1).eq(y).sum().item<std::int64_t>();
  }
  out.samples = idx->size();
  if (out.samples > 0) {
    out.loss = loss_sum / static_cast<double>(out.samples);
    out.accuracy = static_cast<double>(correct) / static_cast<double>(out.samples);
  }
  return out;
}

} // namespace flotilla::model
