#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "model/model_spec.hpp"

namespace flotilla::model {

/// Builds a model with fresh (torch-default) initial weights drawn from torch's global
/// generator. Throws model_error as spec_of does.
torch::nn::Sequential make_model(const model_choice& choice);

/// Builds a model whose initial weights depend only on `seed`: the same (choice, seed) gives the
/// same weights in every process and thread.
torch::nn::Sequential make_model(const model_choice& choice, std::uint64_t seed);

} // namespace flotilla::model
