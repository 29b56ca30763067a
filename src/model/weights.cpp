#include "model/weights.hpp"

#include <cstring>

#include "model/model_error.hpp"

namespace flotilla::model {

std::size_t parameter_count(const torch::nn::Module& module) {
  std::size_t n = 0;
  for (const auto& p : module.parameters())
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
  for (const auto& item : module.named_parameters()) {
    mix(item.key().data(), item.key().size());
    for (auto d : item.value().sizes()) {
      std::int64_t dim = d;
      mix(&dim, sizeof(dim));
    }
  }
  return h;
}

std::vector<float> flatten(const torch::nn::Module& module) {
  std::vector<float> out(parameter_count(module));
  float* dst = out.data();
  for (const auto& p : module.parameters()) {
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
  for (auto& p : module.parameters()) {
    std::memcpy(p.data_ptr<float>(), src, static_cast<std::size_t>(p.numel()) * sizeof(float));
    src += p.numel();
  }
}

} // namespace flotilla::model
