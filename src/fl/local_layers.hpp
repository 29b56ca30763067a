#pragma once
// FedBN (Li et al., ICLR 2021; model.buffers=local): the BatchNorm layers' parameters and
// statistics stay on each client. The client trains and evaluates with its own values of those
// ranges of the flat buffer and sends the model's received values back in their place, so the
// aggregate never sees them and every strategy, clustering method and check works unchanged.
#include <cstddef>
#include <utility>
#include <vector>

namespace flotilla::fl {

/// [offset, count) ranges of a flat weight buffer (model_spec::norm_ranges).
using layer_ranges = std::vector<std::pair<std::size_t, std::size_t>>;

/// The floats of `ranges` in `weights`, concatenated. Throws std::invalid_argument when a range
/// reaches past the buffer.
std::vector<float> local_part(const std::vector<float>& weights, const layer_ranges& ranges);

/// `model` with `ranges` replaced by `local` (a local_part of the same ranges); `model` as it is
/// when `local` is empty (a client that has not trained yet starts from the model's values).
/// Throws std::invalid_argument when `local` does not fit the ranges.
std::vector<float> with_local(const std::vector<float>& model, const layer_ranges& ranges,
                              const std::vector<float>& local);

/// Puts `received`'s values of `ranges` back into `trained`: what leaves the client.
void keep_local(std::vector<float>& trained, const std::vector<float>& received, const layer_ranges& ranges);

} // namespace flotilla::fl
