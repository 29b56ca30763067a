#include "fl/local_layers.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace flotilla::fl {

namespace {

std::size_t checked_total(std::size_t size, const layer_ranges& ranges) {
  std::size_t total = 0;
  for (const auto& [offset, count] : ranges) {
    if (offset > size || count > size - offset)
      throw std::invalid_argument("local layer range [" + std::to_string(offset) + ", +" + std::to_string(count) +
                                  ") is past the " + std::to_string(size) + "-float model");
    total += count;
  }
  return total;
}

} // namespace

std::vector<float> local_part(const std::vector<float>& weights, const layer_ranges& ranges) {
  std::vector<float> out;
  out.reserve(checked_total(weights.size(), ranges));
  for (const auto& [offset, count] : ranges)
    out.insert(out.end(), weights.begin() + static_cast<std::ptrdiff_t>(offset),
               weights.begin() + static_cast<std::ptrdiff_t>(offset + count));
  return out;
}

std::vector<float> with_local(const std::vector<float>& model, const layer_ranges& ranges,
                              const std::vector<float>& local) {
  auto out = model;
  if (local.empty())
    return out;
  if (checked_total(model.size(), ranges) != local.size())
    throw std::invalid_argument("a client's local layers hold " + std::to_string(local.size()) +
                                " floats but the model's ranges " + std::to_string(checked_total(model.size(), ranges)));
  auto src = local.begin();
  for (const auto& [offset, count] : ranges) {
    std::copy(src, src + static_cast<std::ptrdiff_t>(count), out.begin() + static_cast<std::ptrdiff_t>(offset));
    src += static_cast<std::ptrdiff_t>(count);
  }
  return out;
}

void keep_local(std::vector<float>& trained, const std::vector<float>& received, const layer_ranges& ranges) {
  if (trained.size() != received.size())
    throw std::invalid_argument("the trained model has " + std::to_string(trained.size()) + " floats, the received " +
                                std::to_string(received.size()));
  checked_total(trained.size(), ranges);
  for (const auto& [offset, count] : ranges)
    std::copy(received.begin() + static_cast<std::ptrdiff_t>(offset),
              received.begin() + static_cast<std::ptrdiff_t>(offset + count),
              trained.begin() + static_cast<std::ptrdiff_t>(offset));
}

} // namespace flotilla::fl
