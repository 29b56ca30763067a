#pragma once
// Models written in PyTorch: a module torch.jit.script-ed and torch.jit.save-d in Python
// (model.name=torchscript, model.file), trained by the same trainers as the built-in models.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/model_spec.hpp"

namespace flotilla::model {

/// One entry of a TorchScript module's state_dict, under its Python name ("conv1.weight").
struct script_entry {
  std::string key;
  torch::Tensor value;  ///< shares storage with the module
  bool federated;       ///< floating point: part of the flat weight buffer
  bool norm;            ///< a parameter or buffer of a BatchNorm layer (FedBN keeps them local)
  bool alias = false;   ///< another name of a tensor listed before it (tied weights): written, not federated
};

/// The file's SHA-256 (lower-case hex). Loads and checks the file on first use in the process:
/// throws model_error (exit 4) naming the path and what it is when it is not a TorchScript
/// archive (a state_dict, a truncated zip, a directory, a device, a huge declared entry), or
/// holds a parameter that is not float32 or a buffer that is neither float32 nor an integer.
std::string script_sha256(const std::string& path);

/// A trainer's own deep copy of the module in choice.file, wrapped as the single child of a
/// Sequential: parameters() are the module's parameters (what the optimizer steps), train() and
/// eval() reach the TorchScript module (dropout, batch norm), and the float buffers are
/// registered as buffers, so the flat weight buffer (weights.hpp) is every float parameter,
/// then every float buffer, in the module's order.
torch::nn::Sequential make_script_model(const model_choice& choice);

/// Runs the module once on a batch of two zero samples of choice's shape, in eval mode, and
/// throws model_error naming both shapes unless the output is [2, choice.classes].
void check_script_output(const model_choice& choice);

/// The state_dict entries of the script model in `net` (from make_script_model), float ones
/// first in flat-buffer order; empty for a built-in model.
std::vector<script_entry> script_state(const torch::nn::Sequential& net);

/// The seed of the next forward pass of the script model in `net`: a module that draws random
/// numbers (Dropout) runs with libtorch's generator seeded so, under one process-wide lock.
/// No-op for a built-in model.
void seed_script_forward(torch::nn::Module& net, std::uint64_t seed);

/// Whether `net` is a script model (make_script_model).
bool is_script_model(const torch::nn::Module& net);

/// Integer buffers (BatchNorm's num_batches_tracked) are not federated: every load of a flat
/// buffer puts back the file's values, so a fit starts from them wherever it runs. No-op for a
/// built-in model.
void reset_script_counters(torch::nn::Module& net);

} // namespace flotilla::model
