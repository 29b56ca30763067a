#include "data/cifar.hpp"

#include "data/data_error.hpp"
#include "data/idx.hpp"
#include "data/label_range.hpp"

namespace flotilla::data {

image_set read_cifar10(const std::vector<std::string>& batch_paths) {
  constexpr std::size_t side = 32;
  constexpr std::size_t pixels = 3 * side * side;
  constexpr std::size_t record = 1 + pixels;
  constexpr std::size_t classes = 10;
  image_set out;
  out.channels = 3;
  out.height = side;
  out.width = side;
  for (const auto& path : batch_paths) {
    auto bytes = read_maybe_gzip(path);
    if (bytes.empty() || bytes.size() % record != 0)
      throw data_error(path + ": " + std::to_string(bytes.size()) +
                       " bytes is not a whole number of 3,073-byte CIFAR-10 records; is this the "
                       "binary version of CIFAR-10, complete?");
    auto n = bytes.size() / record;
    for (std::size_t i = 0; i < n; ++i)
      check_label(path, i, bytes[i * record], classes);
    for (std::size_t i = 0; i < n; ++i) {
      out.labels.push_back(bytes[i * record]);
      out.pixels.insert(out.pixels.end(), bytes.begin() + static_cast<long>(i * record + 1),
                        bytes.begin() + static_cast<long>((i + 1) * record));
    }
    out.count += n;
  }
  return out;
}

} // namespace flotilla::data
