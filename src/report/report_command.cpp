#include "report/report_command.hpp"

#include <cstdio>
#include <filesystem>

#include "report/report.hpp"
#include "report/report_error.hpp"

namespace flotilla::report {

const char* const report_usage =
  "       flotilla report RUN_DIR [RUN_DIR ...] [--out FILE]\n";

int report_command(const std::vector<std::string>& args) {
  std::vector<std::string> dirs;
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--out" || arg == "-o") {
      if (i + 1 >= args.size())
        throw report_usage_error(arg + " needs a file name: flotilla report RUN_DIR [RUN_DIR ...] --out "
                                       "FILE");
      out = args[++i];
    } else if (arg.rfind("--out=", 0) == 0) {
      out = arg.substr(6);
    } else if (arg.rfind("-", 0) == 0) {
      throw report_usage_error("unknown option " + arg +
                               " for report; usage: flotilla report RUN_DIR [RUN_DIR ...] [--out FILE]");
    } else {
      dirs.push_back(arg);
    }
  }
  if (dirs.empty())
    throw report_usage_error(
      "report needs a run directory: flotilla report RUN_DIR [RUN_DIR ...] [--out FILE]");
  if (out.empty())
    out = default_report_path(dirs);
  write_report(dirs, out);
  std::error_code ec;
  const auto size = std::filesystem::file_size(out, ec);
  std::printf("flotilla: report of %zu run%s written to %s (%.0f KiB)\n", dirs.size(), dirs.size() == 1 ? "" : "s",
              out.c_str(), ec ? 0.0 : static_cast<double>(size) / 1024);
  return 0;
}

} // namespace flotilla::report
