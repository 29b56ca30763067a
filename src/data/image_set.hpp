#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flotilla::data {

/// Images and labels as stored on disk: 8-bit pixels, channel-major per image.
struct image_set {
  std::size_t count = 0;
  std::size_t channels = 1;
  std::size_t height = 0;
  std::size_t width = 0;
  std::vector<std::uint8_t> pixels; ///< count * channels * height * width
  std::vector<std::uint8_t> labels; ///< count
};

} // namespace flotilla::data
