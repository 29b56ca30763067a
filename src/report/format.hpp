#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace flotilla::report::report_format {

/// 0.97441 -> "97.44%"; absent or negative (unknown) -> "n/a".
std::string percent(std::optional<double> fraction);

/// 50.904 -> "50.9 s"; 0.0123 -> "12 ms".
std::string seconds(std::optional<double> s);

/// 562413568 -> "536 MiB".
std::string bytes(std::optional<double> b);

/// 5657.6 -> "5,658": whole numbers with thousands separators.
std::string count(std::optional<double> n);

/// A number in its shortest faithful form (for scores and indices): 0.3333333 -> "0.333".
std::string number(std::optional<double> x, int significant = 3);

} // namespace flotilla::report::report_format
