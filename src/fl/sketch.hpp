#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flotilla::fl {

/// A seeded random projection of a weight vector to `dim` values (Johnson-Lindenstrauss:
/// pairwise distances are kept within a small factor), so K-means over many clients needs
/// dim floats per client instead of the whole model. The projection matrix is never stored:
/// each row is regenerated from (seed, row), so every process computes the same sketch.
std::vector<float> sketch(const std::vector<float>& weights, std::size_t dim, std::uint64_t seed);

} // namespace flotilla::fl
