#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "data/dataset.hpp"
#include "model/metrics.hpp"
#include "model/train_options.hpp"

namespace flotilla::model {

/// Local SGD over `indices` of `data` (remapped through `pixel_map`, e.g. a rotation), shuffled
/// each epoch by a generator seeded with `seed`. A fresh optimizer every call: FL clients do not
/// carry momentum across rounds. Throws model_error on a NaN or infinite loss.
train_metrics train(torch::nn::Sequential& net, const data::split& data,
                    const std::vector<std::uint32_t>& indices,
                    const std::vector<std::int32_t>& pixel_map, const train_options& options,
                    std::uint64_t seed);

/// Batched, no-grad evaluation over `indices` (all samples when empty).
eval_metrics evaluate(torch::nn::Sequential& net, const data::split& data,
                      const std::vector<std::uint32_t>& indices,
                      const std::vector<std::int32_t>& pixel_map);

} // namespace flotilla::model
