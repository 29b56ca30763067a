#include "report/format.hpp"

#include <cmath>
#include <cstdio>

namespace flotilla::report::report_format {

namespace {
const char* unknown = "n/a";
}

std::string percent(std::optional<double> fraction) {
  if (!fraction || *fraction < 0 || !std::isfinite(*fraction))
    return unknown;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", 100 * *fraction);
  return buf;
}

std::string seconds(std::optional<double> s) {
  if (!s || !std::isfinite(*s))
    return unknown;
  char buf[32];
  if (*s < 1)
    std::snprintf(buf, sizeof(buf), "%.0f ms", 1000 * *s);
  else
    std::snprintf(buf, sizeof(buf), "%.1f s", *s);
  return buf;
}

std::string bytes(std::optional<double> b) {
  if (!b || !std::isfinite(*b))
    return unknown;
  char buf[32];
  if (*b >= 1 << 30)
    std::snprintf(buf, sizeof(buf), "%.2f GiB", *b / (1 << 30));
  else if (*b >= 1 << 20)
    std::snprintf(buf, sizeof(buf), "%.0f MiB", *b / (1 << 20));
  else if (*b >= 1 << 10)
    std::snprintf(buf, sizeof(buf), "%.0f KiB", *b / (1 << 10));
  else
    std::snprintf(buf, sizeof(buf), "%.0f B", *b);
  return buf;
}

std::string count(std::optional<double> n) {
  if (!n || !std::isfinite(*n))
    return unknown;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f", std::abs(*n));
  std::string digits = buf, out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return (*n < 0 && out != "0" ? "-" : "") + out;
}

std::string number(std::optional<double> x, int significant) {
  if (!x || !std::isfinite(*x))
    return unknown;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*g", significant, *x);
  return buf;
}

} // namespace flotilla::report::report_format
