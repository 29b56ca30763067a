#pragma once
#include <string>

#include "config/settings.hpp"

namespace flotilla::app {

/// Where a run writes: output.run_dir, or output.dir/<YYYYmmdd-HHMMSS>-<name> (with -2, -3, ...
/// when that exists, so two runs started in the same second never share one). A non-empty
/// output.run_dir is refused unless output.overwrite is true and it is a run directory (then it
/// is replaced once this run has recorded something; if this run fails first it stays). A
/// directory made here is removed again when the run fails before it recorded anything, so a
/// failed start leaves nothing behind.
class run_directory {
public:
  /// Creates the directory (and models/). Throws config_error saying what to change.
  explicit run_directory(const config::settings& s);
  /// An existing run's directory (flotilla resume): kept whatever happens.
  explicit run_directory(std::string existing);
  ~run_directory();
  run_directory(const run_directory&) = delete;
  run_directory& operator=(const run_directory&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const;
  /// The run has recorded something worth keeping, even if it fails later.
  void keep();

private:
  std::string path_;
  bool created_ = false;
  bool keep_ = false;
  std::string replaced_; ///< the earlier run set aside by output.overwrite until this one records something
};

} // namespace flotilla::app
