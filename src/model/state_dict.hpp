#pragma once
#include <string>
#include <vector>

#include "model/model_spec.hpp"

namespace flotilla::model {

/// The bytes of a PyTorch state_dict file for a registered model holding `weights` (its flat
/// buffer): a zip archive that Python's torch.load reads as {"0.weight": tensor, ...}, with the
/// keys of scripts/flotilla_models.py's build(choice.name). Throws model_error for an unknown
/// model or a buffer of another size.
std::string state_dict_bytes(const model_choice& choice, const std::vector<float>& weights);

/// The flat buffer held by a state_dict file's bytes: our own files and Python's
/// `torch.save(model.state_dict(), f)` (float32, float64, float16 or bfloat16 tensors, any
/// key order). Throws model_error naming `source` (e.g. the path) and what is wrong: not a
/// state_dict, or a key missing, extra or of another shape than `choice` has.
std::vector<float> weights_from_state_dict(const model_choice& choice, const std::string& bytes,
                                           const std::string& source);

} // namespace flotilla::model
