#include "report/metrics_csv.hpp"

#include "common/atomic_file.hpp"

#include <filesystem>
#include <fstream>

#include "report/report_error.hpp"
#include "report/inputs.hpp"
#include "fl/record_fields.hpp"

namespace flotilla::report {

using json = nlohmann::json;

namespace {

std::string plain_cell(const json& v) {
  if (v.is_null())
    return "";
  if (v.is_string())
    return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& item : v)
      out += (out.empty() ? "" : ";") + plain_cell(item);
    return out;
  }
  // Numbers print in their shortest exact form, booleans as true/false, objects as JSON.
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// RFC 4180: quote a cell that holds a separator, quote or line break; double inner quotes.
std::string quoted(const std::string& cell) {
  if (cell.find_first_of(",\"\r\n") == std::string::npos)
    return cell;
  std::string out = "\"";
  for (char c : cell)
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

} // namespace

const std::vector<std::string>& metrics_csv_columns() {
  static const std::vector<std::string> columns = fl::round_record_names();
  return columns;
}

std::string metrics_csv_row(const json& line) {
  std::string row;
  bool first = true;
  for (const auto& column : metrics_csv_columns()) {
    if (!first)
      row += ',';
    first = false;
    auto it = line.find(column);
    if (it != line.end())
      row += quoted(plain_cell(*it));
  }
  return row;
}

void write_metrics_csv(const std::string& run_dir) {
  const auto dir = std::filesystem::path(run_dir);
  const auto lines = read_json_lines((dir / "metrics.jsonl").string());
  const auto path = (dir / "metrics.csv").string();
  std::string out;
  std::string header;
  for (const auto& column : metrics_csv_columns())
    header += (header.empty() ? "" : ",") + column;
  out += header + '\n';
  for (const auto& line : lines)
    out += metrics_csv_row(line) + '\n';
  write_file_atomically(path, out); // whole or not at all; output_error says why

}

} // namespace flotilla::report
