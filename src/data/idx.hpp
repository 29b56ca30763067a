#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_set.hpp"

namespace flotilla::data {

/// Largest file read_maybe_gzip returns: the biggest dataset file we read is 47 MB, while a
/// few kilobytes of gzip can inflate to many gigabytes.
inline constexpr std::size_t max_file_bytes = std::size_t{1} << 30;

/// What a dataset needs from its IDX files; read_idx refuses files that differ. The defaults
/// are MNIST's and Fashion-MNIST's.
struct idx_expectation {
  std::uint32_t rows = 28;      ///< image height every image must have
  std::uint32_t cols = 28;      ///< image width every image must have
  std::size_t num_classes = 10; ///< labels must lie in 0 to num_classes - 1 (at least 1 class)
};

/// Reads a whole file, inflating it when it is gzip-compressed (raw files pass through).
/// Throws data_error when it is missing, unreadable or holds more than `max_bytes`.
std::vector<std::uint8_t> read_maybe_gzip(const std::string& path, std::size_t max_bytes = max_file_bytes);

/// Reads an IDX image file (magic 0x00000803) and its label file (0x00000801), raw or .gz.
/// Throws data_error naming the file on a wrong magic number, an image size other than
/// expected's, a byte count other than the header promises (checked before anything is
/// allocated from the header), a count mismatch, no images, or a label outside the classes.
image_set read_idx(const std::string& images_path, const std::string& labels_path,
                   const idx_expectation& expected);

} // namespace flotilla::data
