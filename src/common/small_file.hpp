#pragma once
// Files read whole (PEM files, a starting model, a configuration, a run's JSON files, a
// checkpoint) must be regular and bounded: a device or a pipe (/dev/zero, a FIFO) would be read
// without end or block, a huge file held in memory.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

namespace flotilla {

/// True when `path` is a regular file of at most `max_bytes` (false when it does not exist).
inline bool is_small_regular_file(const std::string& path, std::uintmax_t max_bytes) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) <= max_bytes && !ec;
}

/// How read_small_file went.
enum class small_file_status { ok, missing, not_regular, too_large, unreadable };

/// A file read whole, or why not: `problem` completes "<path> ..." (e.g. "is a directory, not a
/// regular file") so callers put it into their own error class.
struct small_file {
  small_file_status status = small_file_status::unreadable;
  std::string bytes;
  std::string problem;
  bool ok() const { return status == small_file_status::ok; }
};

namespace detail {

inline std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO (named pipe)";
  if (S_ISCHR(mode) || S_ISBLK(mode))
    return "a device";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a plain file";
}

inline std::string size_text(std::uintmax_t bytes) {
  if (bytes >= (std::uintmax_t{1} << 20) && bytes % (std::uintmax_t{1} << 20) == 0)
    return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

inline small_file refused(small_file_status status, std::string problem) {
  small_file f;
  f.status = status;
  f.problem = std::move(problem);
  return f;
}

} // namespace detail

/// Reads `path` whole when it is a regular file (a symlink to one is followed) of at most
/// `max_bytes`. Never blocks on a FIFO and never reads a device: the type is checked before
/// opening and again on the open descriptor, and no more than max_bytes + 1 bytes are read
/// whatever the file claims.
inline small_file read_small_file(const std::string& path, std::uintmax_t max_bytes) {
  using detail::refused;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR)
      return refused(small_file_status::missing, "does not exist");
    return refused(small_file_status::unreadable, std::string("cannot be read (") + std::strerror(err) + ")");
  }
  if (!S_ISREG(st.st_mode))
    return refused(small_file_status::not_regular, "is " + detail::kind_of(st.st_mode) + ", not a regular file");
  if (static_cast<std::uintmax_t>(st.st_size) > max_bytes)
    return refused(small_file_status::too_large, "is larger than " + detail::size_text(max_bytes) + " (" +
                                                   std::to_string(st.st_size) + " bytes)");
  // O_NONBLOCK: were the path swapped for a FIFO since stat, opening it must not wait.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    return refused(err == ENOENT ? small_file_status::missing : small_file_status::unreadable,
                   err == ENOENT ? std::string("does not exist")
                                 : std::string("cannot be read (") + std::strerror(err) + ")");
  }
  small_file f;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return refused(small_file_status::not_regular, "is not a regular file");
  }
  f.bytes.resize(static_cast<std::size_t>(std::min<std::uintmax_t>(static_cast<std::uintmax_t>(st.st_size), max_bytes)) + 1);
  std::size_t done = 0;
  for (;;) {
    if (done == f.bytes.size()) {
      if (done > max_bytes)
        break;
      f.bytes.resize(static_cast<std::size_t>(std::min<std::uintmax_t>(max_bytes + 1, done * 2 + 4096)));
    }
    const auto n = ::read(fd, f.bytes.data() + done, f.bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return refused(small_file_status::unreadable, std::string("cannot be read (") + std::strerror(err) + ")");
    }
    if (n == 0)
      break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (done > max_bytes) // it grew since fstat
    return refused(small_file_status::too_large, "is larger than " + detail::size_text(max_bytes));
  f.bytes.resize(done);
  f.status = small_file_status::ok;
  return f;
}

} // namespace flotilla
