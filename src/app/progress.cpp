#include "app/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace flotilla::app {

progress::progress(const std::string& mode) {
  off_ = mode == "off";
  bar_ = mode == "bar" || (mode == "auto" && isatty(STDOUT_FILENO));
}

void progress::clear_bar() {
  if (bar_shown_) {
    std::printf("\r\033[K");
    bar_shown_ = false;
  }
}

void progress::phase(const std::string& name, const std::string& detail) {
  label_ = name + ": " + detail;
  if (off_)
    return;
  if (!bar_)
    line("[" + name + "] " + detail);
}

void progress::advance(std::size_t done, std::size_t total) {
  if (off_ || !bar_ || total == 0)
    return;
  constexpr int width = 30;
  int filled = static_cast<int>(width * done / total);
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::printf("\r\033[K%-44.44s [%.*s%*s] %zu/%zu  %5.0fs", label_.c_str(), filled,
              "##############################", width - filled, "", done, total, t);
  std::fflush(stdout);
  bar_shown_ = true;
}

void progress::line(const std::string& text) {
  if (off_)
    return;
  clear_bar();
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::printf("%7.1fs  %s\n", t, text.c_str());
  std::fflush(stdout);
}

} // namespace flotilla::app

namespace flotilla::app {

void progress::warn(const std::string& text) {
  clear_bar();
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "%7.1fs  warning: %s\n", t, text.c_str());
  std::fflush(stderr);
}

} // namespace flotilla::app
