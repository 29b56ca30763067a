#pragma once
#include <chrono>
#include <string>

namespace flotilla::app {

/// Terminal progress: a redrawn bar on a TTY, plain lines otherwise (logs, CI), or nothing.
class progress {
public:
  /// mode: auto | bar | lines | off (auto = bar on a TTY, lines otherwise)
  explicit progress(const std::string& mode);

  /// A new step ("initial", "round 2/3, 10 clients").
  void phase(const std::string& name, const std::string& detail);
  /// done of total units of the current step.
  void advance(std::size_t done, std::size_t total);
  /// A finished line (round results), printed above the bar.
  void line(const std::string& text);
  /// A warning: always shown, on stderr, whatever the mode.
  void warn(const std::string& text);

private:
  void clear_bar();
  bool bar_ = false;
  bool off_ = false;
  bool bar_shown_ = false;
  std::string label_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

} // namespace flotilla::app
