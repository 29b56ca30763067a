#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flotilla::fl {

/// A seeded random projection (CountSketch) of a weight vector to `dim` values: pairwise
/// distances are kept within a small factor with high probability, so K-means over many
/// clients needs dim floats per client instead of the whole model. Nothing is stored: the
/// hashes come from (seed, index), so every process computes the same sketch.
std::vector<float> sketch(const std::vector<float>& weights, std::size_t dim, std::uint64_t seed);

} // namespace flotilla::fl
