#pragma once
#include <array>
#include <cstddef>
#include <vector>

namespace flotilla::fl {

/// Projects n points of `dim` floats onto their top two principal components: row i is point
/// i's coordinates (PC1, PC2) around the points' mean. Deterministic: the same points give the
/// same bits, and each axis's sign puts the point farthest along it on the positive side. Works
/// through the n x n Gram matrix when n <= dim (20 clients x 1.6M weights costs n²/2 dot
/// products, never a dim x dim matrix) and the dim x dim covariance otherwise. Axes with no
/// variance (fewer than three distinct points, identical points) give 0. Throws
/// std::invalid_argument on a null point.
std::vector<std::array<double, 2>> pca2(const std::vector<const float*>& points, std::size_t dim);

} // namespace flotilla::fl
