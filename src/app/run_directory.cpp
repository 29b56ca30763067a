#include "app/run_directory.hpp"

#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <system_error>

#include "config/config.hpp"

namespace flotilla::app {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void cannot_create(const std::string& dir, const std::error_code& ec) {
  throw config::config_error("cannot create run directory " + dir + ": " + ec.message() +
                             "; set output.dir or output.run_dir to a writable place");
}

} // namespace

run_directory::run_directory(const config::settings& s) {
  std::error_code ec;
  if (!s.output.run_dir.empty()) {
    path_ = s.output.run_dir;
    if (fs::exists(path_, ec) && !fs::is_directory(path_, ec))
      throw config::config_error("output.run_dir " + path_ + " exists and is not a directory");
    if (fs::is_directory(path_, ec) && !fs::is_empty(path_, ec)) {
      if (!s.output.overwrite)
        throw config::config_error("output.run_dir " + path_ + " is not empty (an earlier run's files would mix with "
                                   "this one's); choose another directory, or set output.overwrite=true to clear it");
      // Only a Flotilla run directory is ever cleared, and only once this run has recorded
      // something: until then the earlier run is set aside and put back if this one fails.
      if (!fs::exists(fs::path(path_) / "config.json", ec))
        throw config::config_error("output.run_dir " + path_ + " is not empty and is not a Flotilla run directory (no "
                                   "config.json); output.overwrite clears only run directories, choose another one");
      replaced_ = path_ + ".replaced-" + std::to_string(::getpid());
      fs::rename(path_, replaced_, ec);
      if (ec)
        cannot_create(path_, ec);
    }
    created_ = !fs::exists(path_, ec);
    fs::create_directories(path_, ec);
    if (ec)
      cannot_create(path_, ec);
  } else {
    char stamp[32];
    auto now = std::time(nullptr);
    std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::localtime(&now));
    fs::create_directories(s.output.dir, ec);
    if (ec)
      cannot_create(s.output.dir, ec);
    auto base = (fs::path(s.output.dir) / (std::string(stamp) + "-" + s.name)).string();
    // create_directory reports whether it made the directory: the first free name wins, even
    // against another run racing for the same one.
    for (int n = 1;; ++n) {
      auto candidate = n == 1 ? base : base + "-" + std::to_string(n);
      if (fs::create_directory(candidate, ec)) {
        path_ = candidate;
        break;
      }
      if (ec)
        cannot_create(candidate, ec);
      if (n > 10000)
        throw config::config_error("cannot find a free run directory name under " + s.output.dir);
    }
    created_ = true;
  }
  fs::create_directories(fs::path(path_) / "models", ec);
  if (ec)
    cannot_create(path_, ec);
}

run_directory::run_directory(std::string existing) : path_(std::move(existing)), keep_(true) {
  std::error_code ec;
  if (!fs::is_directory(path_, ec))
    throw config::config_error(path_ + " is not a run directory");
  fs::create_directories(fs::path(path_) / "models", ec);
}

void run_directory::keep() {
  keep_ = true;
  if (!replaced_.empty()) {
    std::error_code ec;
    fs::remove_all(replaced_, ec); // the earlier run this one overwrites
    replaced_.clear();
  }
}

run_directory::~run_directory() {
  std::error_code ec;
  if (!keep_ && (created_ || !replaced_.empty()))
    fs::remove_all(path_, ec);
  if (!keep_ && !replaced_.empty())
    fs::rename(replaced_, path_, ec); // this run failed before it recorded anything: put the old one back
}

std::string run_directory::file(const std::string& name) const {
  return (fs::path(path_) / name).string();
}

} // namespace flotilla::app
