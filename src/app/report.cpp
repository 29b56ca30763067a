#include "app/report.hpp"

#include <filesystem>
#include <fstream>

#include "app/report_error.hpp"
#include "app/report_page.hpp"
#include "common/atomic_file.hpp"

namespace flotilla::app {

void write_report(const std::vector<std::string>& run_dirs, const std::string& out_path) {
  if (run_dirs.empty())
    throw report_error("no run directory given; pass at least one (flotilla report RUN_DIR [RUN_DIR ...])");
  std::vector<run_files> runs;
  for (const auto& dir : run_dirs)
    runs.push_back(read_run_files(dir));
  const auto page = report_page(runs);
  write_file_atomically(out_path, page); // whole or not at all; output_error says why
}

std::string default_report_path(const std::vector<std::string>& run_dirs) {
  if (run_dirs.size() == 1)
    return (std::filesystem::path(run_dirs.front()) / "report.html").string();
  return "report.html";
}

} // namespace flotilla::app
