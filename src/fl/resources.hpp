#pragma once
#include <chrono>
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

/// Host CPU and memory load, measured from /proc: what every client on this host reports as
/// its device's standing load. CPU% covers the interval since the previous measurement; calls
/// within `min_interval_s` of it share that figure, so clients that report together see the
/// same window (a fresh window of microseconds would read 0% or noise).
class host_monitor {
public:
  explicit host_monitor(double min_interval_s = 1.0);
  /// (CPU percent, memory percent). Thread-safe.
  std::pair<double, double> sample();
  std::uint64_t memory_total_bytes() const { return total_bytes_; }

private:
  std::mutex mutex_;
  double min_interval_s_;
  cpu_times last_;
  double last_cpu_ = 0;
  std::chrono::steady_clock::time_point last_time_;
  std::uint64_t total_bytes_ = 0;
};

/// Peak resident set size of this process (VmHWM from /proc/self/status), in bytes.
std::uint64_t peak_rss_bytes();

/// Current resident set size (VmRSS), in bytes.
std::uint64_t rss_bytes();

} // namespace flotilla::fl
