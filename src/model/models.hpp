#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace flotilla::model {

/// Builds a registered model with fresh (torch-default) initial weights drawn from torch's
/// global generator. Throws model_error for an unknown name.
torch::nn::Sequential make_model(const std::string& name);

/// Builds a registered model whose initial weights depend only on `seed`: the same (name,
/// seed) gives the same weights in every process and thread.
torch::nn::Sequential make_model(const std::string& name, std::uint64_t seed);

} // namespace flotilla::model
