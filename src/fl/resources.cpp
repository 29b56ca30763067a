#include "fl/resources.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace flotilla::fl {

cpu_times parse_proc_stat(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu ", 0) != 0)
      continue;
    std::istringstream fields(line.substr(4));
    std::uint64_t v[10] = {};
    int n = 0;
    while (n < 10 && fields >> v[n])
      ++n;
    if (n < 4)
      break;
    cpu_times out;
    // user nice system idle iowait irq softirq steal (guest times are already in user/nice).
    for (int i = 0; i < std::min(n, 8); ++i)
      out.total += v[i];
    out.busy = out.total - v[3] - (n > 4 ? v[4] : 0);
    return out;
  }
  throw std::runtime_error("/proc/stat: no aggregate 'cpu' line with at least 4 fields");
}

memory_info parse_meminfo(const std::string& text) {
  std::istringstream in(text);
  std::string key;
  std::uint64_t value = 0;
  std::string unit;
  memory_info out;
  bool total = false, available = false;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    if (!(fields >> key >> value))
      continue;
    if (key == "MemTotal:") {
      out.total_kb = value;
      total = true;
    } else if (key == "MemAvailable:") {
      out.available_kb = value;
      available = true;
    }
  }
  if (!total || !available)
    throw std::runtime_error("/proc/meminfo: MemTotal or MemAvailable missing");
  return out;
}

double cpu_percent(const cpu_times& before, const cpu_times& after) {
  if (after.total <= before.total)
    return 0;
  return 100.0 * static_cast<double>(after.busy - before.busy) /
         static_cast<double>(after.total - before.total);
}

double memory_percent(const memory_info& m) {
  if (m.total_kb == 0)
    return 0;
  return 100.0 * static_cast<double>(m.total_kb - m.available_kb) / static_cast<double>(m.total_kb);
}

std::string read_proc_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error(path + ": cannot read (is /proc mounted?)");
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

host_monitor::host_monitor(double min_interval_s) : min_interval_s_(min_interval_s) {
  last_ = parse_proc_stat(read_proc_file("/proc/stat"));
  last_time_ = std::chrono::steady_clock::now();
  total_bytes_ = parse_meminfo(read_proc_file("/proc/meminfo")).total_kb * 1024;
}

std::pair<double, double> host_monitor::sample() {
  auto mem = memory_percent(parse_meminfo(read_proc_file("/proc/meminfo")));
  std::lock_guard<std::mutex> guard(mutex_);
  auto t = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(t - last_time_).count() >= min_interval_s_) {
    auto now = parse_proc_stat(read_proc_file("/proc/stat"));
    last_cpu_ = cpu_percent(last_, now);
    last_ = now;
    last_time_ = t;
  }
  return {last_cpu_, mem};
}

namespace {
std::uint64_t status_kb(const std::string& field) {
  std::istringstream in(read_proc_file("/proc/self/status"));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0)
      return std::stoull(line.substr(field.size()));
  return 0;
}
} // namespace

std::uint64_t peak_rss_bytes() {
  return status_kb("VmHWM:") * 1024;
}

std::uint64_t rss_bytes() {
  return status_kb("VmRSS:") * 1024;
}

} // namespace flotilla::fl
