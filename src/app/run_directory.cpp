#include "app/run_directory.hpp"

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
      for (const auto& entry : fs::directory_iterator(path_, ec))
        fs::remove_all(entry.path(), ec);
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

run_directory::~run_directory() {
  if (created_ && !keep_) {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
}

std::string run_directory::file(const std::string& name) const {
  return (fs::path(path_) / name).string();
}

} // namespace flotilla::app
