#pragma once
#include <string>
#include <vector>

#include "model/model_spec.hpp"

namespace flotilla::model {

/// Writes `weights` as a PyTorch state_dict file (state_dict.hpp) at `path`, atomically: a
/// temporary file beside it, flushed to disk, then renamed, so `path` never holds a truncated
/// file. Throws model_error when the model or buffer is wrong or the file cannot be written.
void save_model(const model_choice& choice, const std::vector<float>& weights, const std::string& path);

/// Reads a state_dict file written by save_model or by Python's torch.save(model.state_dict(),
/// path). Throws model_error naming `path` and what is wrong.
std::vector<float> load_model(const model_choice& choice, const std::string& path);

} // namespace flotilla::model
