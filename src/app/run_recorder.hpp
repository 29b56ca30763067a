#pragma once
#include <string>
#include <vector>

#include "app/progress.hpp"
#include "fl/run_report.hpp"

namespace flotilla::app {

/// The run observer of the command line: one metrics.jsonl line per round (on disk as it
/// happens, so a crashed run keeps what it did) and progress on the terminal. A line is
/// written whole or not at all: on a write error the file is cut back to its last complete
/// line and the error is kept for the caller (write_error).
class run_recorder : public fl::run_observer {
public:
  /// Appends to run_dir/metrics.jsonl (cut back to `metrics_bytes` when resuming) and writes
  /// checkpoints of the run `run_id` into run_dir/checkpoint/.
  run_recorder(const std::string& run_dir, const std::string& run_id, const std::string& progress_mode,
               std::uint64_t metrics_bytes = 0);
  ~run_recorder() override;
  run_recorder(const run_recorder&) = delete;
  run_recorder& operator=(const run_recorder&) = delete;

  void on_phase(const std::string& phase, const std::string& detail) override;
  void on_progress(std::size_t done, std::size_t total) override;
  void on_round(const fl::round_record& record) override;
  void on_warning(const std::string& text) override;
  void on_event(const std::string& text) override;
  bool on_checkpoint(fl::checkpoint& state) override;

  const std::vector<std::string>& warnings() const { return warnings_; }
  std::size_t rounds_recorded() const { return rounds_; }
  /// Why metrics.jsonl could not be written, or empty.
  const std::string& write_error() const { return write_error_; }

private:
  std::string run_dir_, run_id_;
  std::string path_;
  int fd_ = -1;
  long long size_ = 0;
  std::size_t rounds_ = 0;
  progress progress_;
  std::vector<std::string> warnings_;
  std::string write_error_;
};

} // namespace flotilla::app
