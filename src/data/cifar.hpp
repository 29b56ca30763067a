#pragma once
#include <string>
#include <vector>

#include "data/image_set.hpp"

namespace flotilla::data {

/// Reads CIFAR-10 binary batches (records of 1 label byte + 3,072 pixel bytes, 32x32 RGB
/// channel-major) and concatenates them. Throws data_error naming a missing or ragged file,
/// or the file, record index and value of a label outside 0-9.
image_set read_cifar10(const std::vector<std::string>& batch_paths);

} // namespace flotilla::data
