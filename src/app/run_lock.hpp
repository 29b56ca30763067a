#pragma once
// One process per run directory. Two resumes of one run, a resume while the run still runs, or
// two runs overwriting one directory would each append rounds to metrics.jsonl or clear the
// other's results, and both exit 0. flock(2) on RUN/.lock excludes them, and the kernel drops
// the lock with the process's last descriptor however it ends (kill -9, _Exit from the
// shutdown watchdog), so there is never a stale lock to clean up by hand.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/small_file.hpp"
#include "config/config.hpp"

namespace flotilla::app {

/// Another process (a run or a resume) holds the run directory; the message names its pid and
/// command. A usage error: exit 2.
class run_busy_error : public config::config_error {
public:
  using config::config_error::config_error;
};

/// An exclusive lock on a run directory (its .lock file), held until destroyed or the process
/// ends.
class run_lock {
public:
  /// The lock file's name inside the run directory.
  static constexpr const char* file_name = ".lock";

  /// Locks `dir`/.lock (creating it) without waiting and writes this process's pid and command
  /// line into it. Throws run_busy_error naming the holder when another process has it, and
  /// config_error when it cannot be taken at all (a read-only directory).
  explicit run_lock(const std::string& dir) : path_(dir + "/" + file_name) {
    // A holder may remove the file (a failed run removes its directory) between our open and
    // our flock: then we hold a lock on a file nobody else sees, so check and take it again.
    for (int attempt = 0; attempt < 100; ++attempt) {
      struct stat before {};
      created_ = ::lstat(path_.c_str(), &before) != 0;
      fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0644);
      if (fd_ < 0)
        throw config::config_error("cannot lock run directory " + dir + ": " + path_ + ": " + std::strerror(errno) +
                                   "; a run needs a writable directory of its own");
      if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        close_fd();
        if (err == EWOULDBLOCK)
          throw run_busy_error("run directory " + dir + " is in use by " + holder() +
                               "; one process at a time runs or resumes a run: wait for it to end (or stop it), "
                               "or choose another directory");
        throw config::config_error("cannot lock run directory " + dir + ": " + std::strerror(err));
      }
      struct stat held {}, now {};
      if (::fstat(fd_, &held) != 0 || !S_ISREG(held.st_mode)) {
        close_fd();
        throw config::config_error("cannot lock run directory " + dir + ": " + path_ +
                                   " is not a regular file; remove it (Flotilla keeps its lock there)");
      }
      if (::lstat(path_.c_str(), &now) == 0 &&
          held.st_dev == now.st_dev && held.st_ino == now.st_ino) {
        describe_self();
        return;
      }
      close_fd();
    }
    throw config::config_error("cannot lock run directory " + dir + ": its " + file_name +
                               " keeps being replaced; is another program removing it?");
  }
  ~run_lock() { close_fd(); }
  run_lock(const run_lock&) = delete;
  run_lock& operator=(const run_lock&) = delete;

  /// The lock file's path.
  const std::string& path() const { return path_; }

  /// Removes the lock file when this lock created it, so a run that leaves nothing behind
  /// leaves no .lock either. Still locked until destroyed.
  void remove_if_created() {
    if (created_)
      ::unlink(path_.c_str());
    created_ = false;
  }

private:
  void close_fd() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

  // "pid 1234 (flotilla resume runs/x)" from the lock file: hostile bytes, so bounded and
  // printable only.
  std::string holder() const {
    const auto f = read_small_file(path_, 4096);
    std::string text;
    for (char c : f.bytes)
      if (c >= 0x20 && c < 0x7f && text.size() < 300)
        text += c;
    return text.rfind("pid ", 0) == 0 ? text : "another process (pid unknown)";
  }

  // What a second process names: this pid and command line.
  void describe_self() {
    std::string command;
    const auto cmdline = read_small_file("/proc/self/cmdline", 64 * 1024);
    for (char c : cmdline.bytes)
      command += c == '\0' ? ' ' : c;
    while (!command.empty() && command.back() == ' ')
      command.pop_back();
    if (command.size() > 200)
      command = command.substr(0, 197) + "...";
    const auto text = "pid " + std::to_string(::getpid()) + (command.empty() ? "" : " (" + command + ")") + "\n";
    // Best effort: the lock is what matters, the text only explains it.
    if (::ftruncate(fd_, 0) == 0)
      (void)!::pwrite(fd_, text.data(), text.size(), 0);
  }

  std::string path_;
  int fd_ = -1;
  bool created_ = false;
};

} // namespace flotilla::app
