#pragma once
#include <torch/torch.h>

#include <string>

namespace flotilla::model {

/// Builds a registered model with fresh (torch-default) initial weights. Initialization draws
/// from torch's global generator: callers that need determinism seed it under a lock
/// (see initial_weights in trainer.hpp).
torch::nn::Sequential make_model(const std::string& name);

} // namespace flotilla::model
