#pragma once
#include <string>
#include <vector>

namespace flotilla::report {

/// The usage lines of `flotilla report`, for the program's usage text.
extern const char* const report_usage;

/// `flotilla report RUN_DIR [RUN_DIR ...] [--out FILE]`: (re)builds the report, at --out FILE
/// or default_report_path, and prints where. `args` are the words after "report". Throws
/// report_usage_error for a wrong command line and report_error for a missing or damaged run
/// file; returns 0 when written.
int report_command(const std::vector<std::string>& args);

} // namespace flotilla::report
