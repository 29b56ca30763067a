#pragma once
// Output files appear whole or not at all: written to a temporary file beside the target,
// flushed to disk, then renamed over it, so a crash or a full disk never leaves a truncated
// file under the final name.
#include <stdexcept>
#include <string>

namespace flotilla {

/// A result file could not be written (full disk, no permission...); the message names the file
/// and the system's reason.
class output_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename, fsync of the directory).
/// Throws output_error; the previous file, if any, is left as it was.
void write_file_atomically(const std::string& path, const std::string& bytes);

} // namespace flotilla
