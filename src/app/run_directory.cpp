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

// Whether `dir` holds anything besides a lock file (which a run that failed to start leaves
// behind only when another process had locked it meanwhile).
bool has_files(const std::string& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename() != run_lock::file_name)
      return true;
  return false;
}

// The refusals of output.run_dir, read-only so a refused directory is left as it was. True
// when it holds an earlier run that output.overwrite replaces.
bool holds_earlier_run(const std::string& dir, bool overwrite) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw config::config_error("output.run_dir " + dir + " exists and is not a directory");
  if (!fs::is_directory(dir, ec) || !has_files(dir))
    return false;
  if (!overwrite)
    throw config::config_error("output.run_dir " + dir + " is not empty (an earlier run's files would mix with "
                               "this one's); choose another directory, or set output.overwrite=true to clear it");
  // Only a Flotilla run directory is ever cleared.
  if (!fs::exists(fs::path(dir) / "config.json", ec))
    throw config::config_error("output.run_dir " + dir + " is not empty and is not a Flotilla run directory (no "
                               "config.json); output.overwrite clears only run directories, choose another one");
  return true;
}

} // namespace

run_directory::run_directory(const config::settings& s) {
  std::error_code ec;
  try {
    if (!s.output.run_dir.empty()) {
      path_ = s.output.run_dir;
      // A run directory (it has a lock file) in use is refused naming who uses it.
      if (fs::exists(fs::path(path_) / run_lock::file_name, ec))
        lock_ = std::make_unique<run_lock>(path_);
      holds_earlier_run(path_, s.output.overwrite);
      created_ = !fs::exists(path_, ec);
      fs::create_directories(path_, ec);
      if (ec)
        cannot_create(path_, ec);
      // Locked before anything in it changes: a run still in progress there is never cleared.
      if (!lock_)
        lock_ = std::make_unique<run_lock>(path_);
      // Asked again under the lock: another run may have filled the directory meanwhile.
      if (holds_earlier_run(path_, s.output.overwrite))
        set_aside_earlier_run();
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
      lock_ = std::make_unique<run_lock>(path_);
    }
    fs::create_directories(fs::path(path_) / "models", ec);
    if (ec)
      cannot_create(path_, ec);
  } catch (const run_busy_error&) {
    throw; // the directory is another process's now: leave it as it is
  } catch (...) {
    undo();
    throw;
  }
}

run_directory::run_directory(std::string existing) : path_(std::move(existing)), keep_(true) {
  std::error_code ec;
  if (!fs::is_directory(path_, ec))
    throw config::config_error(path_ + " is not a run directory");
  lock_ = std::make_unique<run_lock>(path_);
  fs::create_directories(fs::path(path_) / "models", ec);
}

void run_directory::set_aside_earlier_run() {
  // The directory itself stays (its lock file is the one this run holds); its files move to a
  // sibling directory, which is removed once this run has recorded something.
  std::error_code ec;
  auto base = fs::path(path_).lexically_normal();
  if (!base.has_filename()) // "runs/x/": the sibling is runs/x.replaced-N, not runs/x/.replaced-N
    base = base.parent_path();
  const auto aside = base.string() + ".replaced-" + std::to_string(::getpid());
  if (!fs::create_directory(aside, ec))
    cannot_create(aside, ec ? ec : std::make_error_code(std::errc::file_exists));
  replaced_ = aside;
  std::vector<std::string> names; // listed first: renaming while reading a directory may skip entries
  for (fs::directory_iterator it(path_, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename() != run_lock::file_name)
      names.push_back(it->path().filename().string());
  for (const auto& name : names) {
    if (ec)
      break;
    fs::rename(fs::path(path_) / name, fs::path(replaced_) / name, ec);
    if (ec)
      break;
    moved_.push_back(name);
  }
  if (ec) {
    // Half set aside is worse than not at all: everything goes back before the refusal.
    std::error_code ignored;
    for (const auto& name : moved_)
      fs::rename(fs::path(replaced_) / name, fs::path(path_) / name, ignored);
    fs::remove(replaced_, ignored);
    moved_.clear();
    replaced_.clear();
    cannot_create(path_, ec);
  }
}

void run_directory::put_back_earlier_run() {
  std::error_code ec;
  std::vector<fs::path> ours;
  for (fs::directory_iterator it(path_, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename() != run_lock::file_name)
      ours.push_back(it->path());
  for (const auto& p : ours)
    fs::remove_all(p, ec);
  for (const auto& name : moved_)
    fs::rename(fs::path(replaced_) / name, fs::path(path_) / name, ec);
  fs::remove(replaced_, ec); // empty again, unless something could not be moved back: then it stays
  moved_.clear();
  replaced_.clear();
}

void run_directory::undo() {
  std::error_code ec;
  if (keep_)
    return;
  if (created_) {
    fs::remove_all(path_, ec); // still locked while it goes: nobody else starts in it meanwhile
    return;
  }
  if (!replaced_.empty())
    put_back_earlier_run(); // this run failed before it recorded anything
  if (lock_)
    lock_->remove_if_created();
}

void run_directory::keep() {
  keep_ = true;
  if (!replaced_.empty()) {
    std::error_code ec;
    fs::remove_all(replaced_, ec); // the earlier run this one overwrites
    replaced_.clear();
    moved_.clear();
  }
}

run_directory::~run_directory() {
  undo();
}

std::string run_directory::file(const std::string& name) const {
  return (fs::path(path_) / name).string();
}

} // namespace flotilla::app
