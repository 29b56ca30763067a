#include "report/inputs.hpp"

#include <sys/stat.h>

#include "report/report_error.hpp"
#include "common/json_shape.hpp"
#include "common/small_file.hpp"

namespace flotilla::report {

using json = nlohmann::json;

namespace {

const char* started_hint = "a run writes it when it starts; is this a flotilla run directory?";
const char* finished_hint =
  "a run writes it when it finishes; pass the directory of a finished run, or rerun it";
const char* restore = "the file is damaged: restore it or rerun the run";

// Every byte of a run file is hostile until checked: a directory, a FIFO or /dev/zero in its
// place is refused before it is read, and so is a file larger than any run writes.
std::string read_text(const std::string& path, const std::string& hint) {
  auto f = read_small_file(path, report_max_file_bytes);
  if (f.status == small_file_status::missing)
    throw report_error(path + " is missing or unreadable: " + hint);
  if (!f.ok())
    throw report_error(path + " " + f.problem + "; no run writes that: restore the run's file or rerun the run");
  return std::move(f.bytes);
}

[[noreturn]] void damaged(const std::string& where, const std::exception& e) {
  throw report_error(where + " is not valid JSON (" + e.what() + "); " + restore);
}

// Depth and size before parsing: what the report does with a value (print, flatten, draw)
// recurses per level and costs memory per value.
json parse_bounded(const std::string& text, const std::string& where, std::size_t& values_left) {
  const auto shape = measure_json(text);
  if (shape.depth > report_max_depth)
    throw report_error(where + " nests values " + std::to_string(shape.depth) + " levels deep, more than the " +
                       std::to_string(report_max_depth) + " any run writes; " + restore);
  if (shape.values > values_left)
    throw report_error(where + " takes the run past " + std::to_string(report_max_values) +
                       " JSON values, more than the report draws (a run of 10,000 clients writes about a tenth "
                       "of that); " + restore);
  values_left -= shape.values;
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    damaged(where, e);
  }
}

} // namespace

json read_json_object(const std::string& path, const std::string& hint, std::size_t& values_left) {
  json j = parse_bounded(read_text(path, hint), path, values_left);
  if (!j.is_object())
    throw report_error(path + " holds a JSON " + j.type_name() + ", not an object; " + restore);
  return j;
}

std::vector<json> read_json_lines(const std::string& path, std::size_t& values_left) {
  const auto text = read_text(path, started_hint);
  std::vector<json> out;
  std::size_t number = 1;
  for (std::size_t start = 0; start < text.size(); ++number) {
    auto end = text.find('\n', start);
    if (end == std::string::npos)
      end = text.size();
    const auto line = text.substr(start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    const auto where = path + " line " + std::to_string(number);
    out.push_back(parse_bounded(line, where, values_left));
    if (!out.back().is_object())
      throw report_error(where + " holds a JSON " + std::string(out.back().type_name()) + ", not an object; " +
                         restore);
  }
  return out;
}

std::vector<json> read_json_lines(const std::string& path) {
  std::size_t values_left = report_max_values;
  return read_json_lines(path, values_left);
}

run_files read_run_files(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    throw report_error("run directory " + dir +
                       " does not exist; pass the directory a run printed at its end ('run directory: ...')");
  if (!S_ISDIR(st.st_mode))
    throw report_error(dir + " is not a run directory (it is a file, not a directory); pass the directory a run "
                             "printed at its end ('run directory: ...')");
  const std::string d = dir + (dir.empty() || dir.back() == '/' ? "" : "/");
  std::size_t values_left = report_max_values;
  run_files r;
  r.dir = dir;
  r.config = read_json_object(d + "config.json", started_hint, values_left);
  r.metrics = read_json_lines(d + "metrics.jsonl", values_left);
  r.clusters = read_json_object(d + "clusters.json", finished_hint, values_left);
  r.summary = read_json_object(d + "summary.json", finished_hint, values_left);
  return r;
}

} // namespace flotilla::report
