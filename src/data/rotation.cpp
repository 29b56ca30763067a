#include "data/rotation.hpp"

#include <cmath>

namespace flotilla::data {

std::vector<std::int32_t> rotation_map(std::size_t height, std::size_t width, double degrees) {
  double turns = std::fmod(degrees, 360.0);
  if (turns < 0)
    turns += 360.0;
  if (turns == 0.0)
    return {};
  double rad = turns * M_PI / 180.0;
  double c = std::cos(rad), s = std::sin(rad);
  double cy = (static_cast<double>(height) - 1) / 2, cx = (static_cast<double>(width) - 1) / 2;
  std::vector<std::int32_t> map(height * width, -1);
  for (std::size_t y = 0; y < height; ++y)
    for (std::size_t x = 0; x < width; ++x) {
      // Inverse mapping: where does output (y, x) come from? (rotate by -angle)
      double dx = static_cast<double>(x) - cx, dy = static_cast<double>(y) - cy;
      double sx = c * dx - s * dy + cx;
      double sy = s * dx + c * dy + cy;
      auto ix = static_cast<long>(std::lround(sx)), iy = static_cast<long>(std::lround(sy));
      if (ix >= 0 && iy >= 0 && ix < static_cast<long>(width) && iy < static_cast<long>(height))
        map[y * width + x] = static_cast<std::int32_t>(static_cast<std::size_t>(iy) * width +
                                                       static_cast<std::size_t>(ix));
    }
  return map;
}

} // namespace flotilla::data
