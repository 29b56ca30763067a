#include "app/report_inputs.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/report_error.hpp"

namespace flotilla::app {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const char* started_hint = "a run writes it when it starts; is this a flotilla run directory?";
const char* finished_hint =
  "a run writes it when it finishes; pass the directory of a finished run, or rerun it";

std::string read_text(const std::string& path, const std::string& hint) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw report_error(path + " is missing or unreadable: " + hint);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

[[noreturn]] void damaged(const std::string& where, const std::exception& e) {
  throw report_error(where + " is not valid JSON (" + e.what() +
                     "); the file is damaged: restore it or rerun the run");
}

} // namespace

json read_json_object(const std::string& path, const std::string& hint) {
  json j;
  try {
    j = json::parse(read_text(path, hint));
  } catch (const json::parse_error& e) {
    damaged(path, e);
  }
  if (!j.is_object())
    throw report_error(path + " holds a JSON " + j.type_name() +
                       ", not an object; the file is damaged: restore it or rerun the run");
  return j;
}

std::vector<json> read_json_lines(const std::string& path) {
  std::istringstream text(read_text(path, started_hint));
  std::vector<json> out;
  std::string line;
  for (std::size_t number = 1; std::getline(text, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    const auto where = path + " line " + std::to_string(number);
    try {
      out.push_back(json::parse(line));
    } catch (const json::parse_error& e) {
      damaged(where, e);
    }
    if (!out.back().is_object())
      throw report_error(where + " holds a JSON " + std::string(out.back().type_name()) +
                         ", not an object; the file is damaged: restore it or rerun the run");
  }
  return out;
}

run_files read_run_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw report_error("run directory " + dir +
                       " does not exist; pass the directory a run printed at its end ('run directory: ...')");
  const fs::path d(dir);
  run_files r;
  r.dir = dir;
  r.config = read_json_object((d / "config.json").string(), started_hint);
  r.metrics = read_json_lines((d / "metrics.jsonl").string());
  r.clusters = read_json_object((d / "clusters.json").string(), finished_hint);
  r.summary = read_json_object((d / "summary.json").string(), finished_hint);
  return r;
}

} // namespace flotilla::app
