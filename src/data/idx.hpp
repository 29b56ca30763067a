#pragma once
#include <string>
#include <vector>

#include "data/image_set.hpp"

namespace flotilla::data {

/// Reads a whole file, inflating it when it is gzip-compressed (raw files pass through).
std::vector<std::uint8_t> read_maybe_gzip(const std::string& path);

/// Reads an IDX image file (magic 0x00000803) and its label file (0x00000801), raw or .gz.
/// Throws data_error naming the file on a wrong magic number, truncation or count mismatch.
image_set read_idx(const std::string& images_path, const std::string& labels_path);

} // namespace flotilla::data
