#pragma once
#include <fstream>
#include <string>
#include <vector>

#include "app/progress.hpp"
#include "fl/run_report.hpp"

namespace flotilla::app {

/// The run observer of the command line: one metrics.jsonl line per round (flushed as it
/// happens, so a crashed run keeps what it did) and progress on the terminal.
class run_recorder : public fl::run_observer {
public:
  run_recorder(const std::string& metrics_path, const std::string& progress_mode);

  void on_phase(const std::string& phase, const std::string& detail) override;
  void on_progress(std::size_t done, std::size_t total) override;
  void on_round(const fl::round_record& record) override;
  void on_warning(const std::string& text) override;

  const std::vector<std::string>& warnings() const { return warnings_; }

private:
  std::ofstream metrics_;
  progress progress_;
  std::vector<std::string> warnings_;
};

} // namespace flotilla::app
