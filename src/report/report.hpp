#pragma once
#include <string>
#include <vector>

namespace flotilla::report {

/// Writes one self-contained HTML report (inline style, SVG and script; nothing is fetched) of
/// the run directories to out_path: one directory gives its run's report, several a comparison
/// with the runs side by side. Throws report_error naming a missing or damaged run file, or an
/// output that cannot be written.
void write_report(const std::vector<std::string>& run_dirs, const std::string& out_path);

/// Where `flotilla report` writes without --out: RUN_DIR/report.html for one directory,
/// report.html in the current directory for several.
std::string default_report_path(const std::vector<std::string>& run_dirs);

} // namespace flotilla::report
