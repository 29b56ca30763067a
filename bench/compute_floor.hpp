#pragma once
#include <cstdint>
#include <string>

#include "data/dataset.hpp"
#include "model/train_options.hpp"

namespace flotilla::bench {

/// Seconds that `sample_passes` training samples take in a tight loop of `threads` independent
/// one-thread trainers (one model each, no actors, no messages): what the hardware allows.
double compute_floor_seconds(const data::dataset& data, const std::string& model, std::uint64_t sample_passes,
                             const model::train_options& options, unsigned threads);

/// Seconds that evaluating `images` test images (forward only, batched) takes on `threads`
/// independent trainers: the floor of a run's evaluations.
double evaluation_floor_seconds(const data::dataset& data, const std::string& model, std::uint64_t images,
                                unsigned threads);

} // namespace flotilla::bench
