#include "model/weights.hpp"

#include <cstring>

#include "model/model_error.hpp"
#include "model/script_model.hpp"

namespace flotilla::model {

namespace {

// The flat buffer's tensors: every parameter, then every float buffer (a TorchScript module's
// BatchNorm statistics; the built-in models have none), in registration order.
std::vector<std::pair<std::string, torch::Tensor>> flat_tensors(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : module.named_parameters())
    out.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers())
    if (item.value().scalar_type() == torch::kFloat)
      out.emplace_back(item.key(), item.value());
  return out;
}

} // namespace

std::size_t parameter_count(const torch::nn::Module& module) {
  std::size_t n = 0;
  for (const auto& [name, p] : flat_tensors(module))
    n += static_cast<std::size_t>(p.numel());
  return n;
}

std::uint64_t layout_id(const torch::nn::Module& module) {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* data, std::size_t n) {
    auto bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
      h ^= bytes[i];
      h *= 1099511628211ull;
    }
  };
  for (const auto& [name, p] : flat_tensors(module)) {
    mix(name.data(), name.size());
    for (auto d : p.sizes()) {
      std::int64_t dim = d;
      mix(&dim, sizeof(dim));
    }
  }
  return h;
}

std::vector<float> flatten(const torch::nn::Module& module) {
  std::vector<float> out(parameter_count(module));
  float* dst = out.data();
  for (const auto& [name, p] : flat_tensors(module)) {
    auto t = p.detach().contiguous();
    std::memcpy(dst, t.data_ptr<float>(), static_cast<std::size_t>(t.numel()) * sizeof(float));
    dst += t.numel();
  }
  return out;
}

void load_flat(torch::nn::Module& module, const float* data, std::size_t count, std::uint64_t layout) {
  auto expected = parameter_count(module);
  if (count != expected)
    throw model_error("weight buffer has " + std::to_string(count) + " floats but the model has " +
                      std::to_string(expected) + " parameters; it belongs to another model");
  if (layout != 0 && layout != layout_id(module))
    throw model_error("weight buffer layout does not match the model's parameter shapes; it "
                      "belongs to another architecture of the same size");
  torch::NoGradGuard no_grad;
  const float* src = data;
  for (auto& [name, p] : flat_tensors(module)) {
    // Parameters and buffers are contiguous as registered; a view would take the copy elsewhere.
    if (!p.is_contiguous())
      throw model_error("model tensor '" + name + "' is not contiguous; the flat buffer cannot be loaded into it");
    std::memcpy(p.data_ptr<float>(), src, static_cast<std::size_t>(p.numel()) * sizeof(float));
    src += p.numel();
  }
  reset_script_counters(module);
}

} // namespace flotilla::model
