#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flotilla::data {

/// A pixel map that rotates an h x w image counter-clockwise by `degrees` about its centre:
/// entry p is the source pixel of output pixel p, or -1 where the source falls outside
/// (filled with background). Multiples of 90 degrees on square images are exact
/// permutations; 0 degrees gives an empty map (no remapping).
std::vector<std::int32_t> rotation_map(std::size_t height, std::size_t width, double degrees);

} // namespace flotilla::data
