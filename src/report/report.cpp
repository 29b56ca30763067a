#include "report/report.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <utility>

#include "report/report_error.hpp"
#include "report/page.hpp"
#include "common/atomic_file.hpp"

namespace flotilla::report {

namespace fs = std::filesystem;

namespace {

// What a run writes into its directory (besides report.html, which the report itself is).
const std::set<std::string> run_file_names{"config.json", "metrics.jsonl", "metrics.csv", "clusters.json",
                                           "summary.json", ".lock", "checkpoint", "models"};

// A run directory holds a few dozen files; the walk stops well before a wrong directory (a
// home folder) could make it slow.
constexpr std::size_t max_files_walked = 100'000;

std::string kind_of(mode_t mode) {
  return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO (named pipe)" : S_ISSOCK(mode) ? "a socket"
                       : S_ISCHR(mode) || S_ISBLK(mode) ? "a device" : "not a regular file";
}

[[noreturn]] void refuse(const std::string& out, const std::string& why) {
  throw report_usage_error("--out " + out + " " + why + "; choose another --out FILE (without it, one run's report "
                                                         "goes to RUN_DIR/report.html)");
}

// The report replaces its target with a new file (written aside, then renamed): whatever is at
// `out` is gone afterwards. Only a regular file that is not one of the reported runs' own
// files may be replaced; a device node, a directory or a FIFO never (as root, renaming over
// /dev/full replaced the device).
void check_target(const std::string& out, const std::vector<std::string>& run_dirs) {
  struct stat link {}, target {};
  const bool exists = ::lstat(out.c_str(), &link) == 0;
  if (exists) {
    if (::stat(out.c_str(), &target) != 0)
      refuse(out, "is a symbolic link that points nowhere");
    if (!S_ISREG(target.st_mode))
      refuse(out, "is " + kind_of(target.st_mode) + (S_ISLNK(link.st_mode) ? " (through a symbolic link)" : "") +
                    "; a report replaces only a regular file");
  }
  std::error_code ec;
  const auto where = fs::weakly_canonical(fs::absolute(out, ec), ec);
  for (const auto& dir : run_dirs) {
    const auto run = fs::canonical(dir, ec);
    if (ec)
      continue; // reading the run reports it
    // A new file inside the run: beside its files it is fine, in their place or among its
    // checkpoint or models not.
    const auto inside = where.lexically_relative(run);
    if (!ec && !inside.empty() && *inside.begin() != ".." && inside != "." && inside != "report.html" &&
        (run_file_names.count(inside.begin()->string()) > 0 || std::next(inside.begin()) != inside.end()))
      refuse(out, "is " + dir + "'s own " + inside.string() + " (the run's record)");
    if (!exists)
      continue;
    // The same file under another name (a hard link, a symbolic link, a path through ..).
    std::size_t walked = 0;
    for (fs::recursive_directory_iterator it(run, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end && walked < max_files_walked; it.increment(ec), ++walked) {
      struct stat st {};
      if (::stat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        continue;
      if (st.st_dev == target.st_dev && st.st_ino == target.st_ino && it->path() != run / "report.html")
        refuse(out, "is " + dir + "'s own " + it->path().lexically_relative(run).string() + " (the run's record)");
    }
  }
}

} // namespace

void write_report(const std::vector<std::string>& run_dirs, const std::string& out_path) {
  if (run_dirs.empty())
    throw report_error("no run directory given; pass at least one (flotilla report RUN_DIR [RUN_DIR ...])");
  check_target(out_path, run_dirs);
  std::vector<run_files> runs;
  for (const auto& dir : run_dirs)
    runs.push_back(read_run_files(dir));
  const auto page = report_page(runs);
  write_file_atomically(out_path, page); // whole or not at all; output_error says why
}

std::string default_report_path(const std::vector<std::string>& run_dirs) {
  if (run_dirs.size() == 1)
    return (fs::path(run_dirs.front()) / "report.html").string();
  return "report.html";
}

} // namespace flotilla::report
