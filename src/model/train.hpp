#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "data/dataset.hpp"
#include "model/metrics.hpp"
#include "model/train_options.hpp"

namespace flotilla::model {

/// Local SGD over `indices` of `data`, shuffled each epoch by a generator seeded with `seed`.
/// Pixels are remapped through `pixel_map` (e.g. a rotation; empty = as stored) and a sample
/// with label y is trained as label_map[y] (empty = y). A fresh optimizer every call: FL
/// clients do not carry momentum across rounds. Throws model_error on a NaN or infinite loss,
/// a negative proximal_mu or a label map that does not cover the labels.
train_metrics train(torch::nn::Sequential& net, const data::split& data,
                    const std::vector<std::uint32_t>& indices,
                    const std::vector<std::int32_t>& pixel_map,
                    const std::vector<std::int64_t>& label_map, const train_options& options,
                    std::uint64_t seed);

/// Batched, no-grad evaluation over `indices` (all samples when empty), with the same pixel
/// and label maps as train.
eval_metrics evaluate(torch::nn::Sequential& net, const data::split& data,
                      const std::vector<std::uint32_t>& indices,
                      const std::vector<std::int32_t>& pixel_map,
                      const std::vector<std::int64_t>& label_map,
                      std::size_t batch_size = evaluation_batch);

} // namespace flotilla::model
