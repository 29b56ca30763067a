#pragma once
// Files read whole (PEM files, a starting model) must be regular and small: a device or a pipe
// (/dev/zero, a FIFO) would be read without end or block, a huge file held in memory.
#include <cstdint>
#include <filesystem>
#include <string>

namespace flotilla {

/// True when `path` is a regular file of at most `max_bytes` (false when it does not exist).
inline bool is_small_regular_file(const std::string& path, std::uintmax_t max_bytes) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) <= max_bytes && !ec;
}

} // namespace flotilla
