#pragma once
#include <memory>
#include <string>
#include <vector>

#include "app/run_lock.hpp"
#include "config/settings.hpp"

namespace flotilla::app {

/// Where a run writes: output.run_dir, or output.dir/<YYYYmmdd-HHMMSS>-<name> (with -2, -3, ...
/// when that exists, so two runs started in the same second never share one). A non-empty
/// output.run_dir is refused unless output.overwrite is true and it is a run directory (then its
/// files are set aside and removed once this run has recorded something; if this run fails
/// first they are put back). A directory made here is removed again when the run fails before
/// it recorded anything, so a failed start leaves nothing behind. The directory is locked
/// (run_lock) from before anything in it changes until this object ends: a second run, resume
/// or overwrite of it is refused with run_busy_error.
class run_directory {
public:
  /// Creates the directory (and models/). Throws config_error saying what to change, and
  /// run_busy_error when another process uses the directory.
  explicit run_directory(const config::settings& s);
  /// An existing run's directory (flotilla resume): kept whatever happens. Throws
  /// run_busy_error when another process uses it.
  explicit run_directory(std::string existing);
  ~run_directory();
  run_directory(const run_directory&) = delete;
  run_directory& operator=(const run_directory&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const;
  /// The run has recorded something worth keeping, even if it fails later.
  void keep();

private:
  void set_aside_earlier_run();
  void put_back_earlier_run();
  void undo(); ///< what a run that recorded nothing leaves: the directory as it found it

  std::string path_;
  bool created_ = false;
  bool keep_ = false;
  std::unique_ptr<run_lock> lock_;
  std::string replaced_; ///< the earlier run's files set aside by output.overwrite until this one records something
  std::vector<std::string> moved_; ///< the names moved into replaced_
};

} // namespace flotilla::app
