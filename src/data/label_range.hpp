#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/data_error.hpp"

namespace flotilla::data {

/// Throws data_error naming the file, the index and the value when `label` is not a class
/// (0 to num_classes - 1). Both readers check every label: one bad byte would otherwise crash
/// the partitioner or the loss far from its cause.
inline void check_label(const std::string& path, std::size_t index, std::uint8_t label,
                        std::size_t num_classes) {
  if (label < num_classes)
    return;
  throw data_error(path + ": label " + std::to_string(label) + " at index " + std::to_string(index) +
                   " is outside 0-" + std::to_string(num_classes - 1) +
                   "; the file is corrupt: delete it and fetch it again");
}

} // namespace flotilla::data
