#include "app/report.hpp"

#include <filesystem>
#include <fstream>

#include "app/report_error.hpp"
#include "app/report_page.hpp"

namespace flotilla::app {

void write_report(const std::vector<std::string>& run_dirs, const std::string& out_path) {
  if (run_dirs.empty())
    throw report_error("no run directory given; pass at least one (flotilla report RUN_DIR [RUN_DIR ...])");
  std::vector<run_files> runs;
  for (const auto& dir : run_dirs)
    runs.push_back(read_run_files(dir));
  const auto page = report_page(runs);
  // Write beside the target and rename, so a reader never sees half a report.
  const auto tmp = out_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << page;
    out.flush();
    if (!out)
      throw report_error("cannot write " + tmp + "; check that its directory exists and is writable, or pass "
                         "another --out FILE");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out_path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw report_error("cannot write " + out_path + "; check that its directory is writable, or pass another "
                       "--out FILE");
  }
}

std::string default_report_path(const std::vector<std::string>& run_dirs) {
  if (run_dirs.size() == 1)
    return (std::filesystem::path(run_dirs.front()) / "report.html").string();
  return "report.html";
}

} // namespace flotilla::app
