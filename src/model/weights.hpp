#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace flotilla::model {

/// Number of floats in the model's flat weight buffer.
std::size_t parameter_count(const torch::nn::Module& module);

/// FNV-1a hash of every parameter's name and shape: two buffers with the same layout id
/// belong to the same architecture.
std::uint64_t layout_id(const torch::nn::Module& module);

/// Copies every parameter, then every float32 buffer (a TorchScript module's BatchNorm
/// statistics), in registration order, into one contiguous buffer.
std::vector<float> flatten(const torch::nn::Module& module);

/// Writes a flat buffer back into the parameters. Throws model_error when `count` does not
/// match the model or `layout` (when non-zero) names another architecture.
void load_flat(torch::nn::Module& module, const float* data, std::size_t count,
               std::uint64_t layout = 0);

} // namespace flotilla::model
