#pragma once
#include <cstdint>
#include <mutex>
#include <string>

namespace flotilla::fl {

/// Cumulative CPU times from the first line of /proc/stat, in clock ticks.
struct cpu_times {
  std::uint64_t busy = 0;
  std::uint64_t total = 0;
};

/// Memory figures from /proc/meminfo, in kB.
struct memory_info {
  std::uint64_t total_kb = 0;
  std::uint64_t available_kb = 0;
};

/// Parses /proc/stat text (the aggregate "cpu" line; idle + iowait count as idle, as psutil
/// does). Throws std::runtime_error when the line is missing.
cpu_times parse_proc_stat(const std::string& text);

/// Parses /proc/meminfo text (MemTotal, MemAvailable). Throws std::runtime_error when missing.
memory_info parse_meminfo(const std::string& text);

/// Busy share of the CPU between two readings, in percent (psutil.cpu_percent).
double cpu_percent(const cpu_times& before, const cpu_times& after);

/// Memory in use, in percent (psutil.virtual_memory().percent).
double memory_percent(const memory_info& m);

/// Reads a whole /proc file.
std::string read_proc_file(const std::string& path);

/// Host CPU and memory load, measured from /proc over the interval since the previous call
/// (or since construction): what every client on this host reports as its device load.
class host_monitor {
public:
  host_monitor();
  /// CPU percent since the previous sample, memory percent now. Thread-safe.
  std::pair<double, double> sample();
  std::uint64_t memory_total_bytes() const { return total_bytes_; }

private:
  std::mutex mutex_;
  cpu_times last_;
  std::uint64_t total_bytes_ = 0;
};

/// Peak resident set size of this process (VmHWM from /proc/self/status), in bytes.
std::uint64_t peak_rss_bytes();

/// Current resident set size (VmRSS), in bytes.
std::uint64_t rss_bytes();

} // namespace flotilla::fl
