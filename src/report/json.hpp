#pragma once
// Tolerant reads of a run's JSON files: a field that is absent or of another type reads as
// absent, because runs written by older versions lack the newer fields and the report must
// still show everything they do have.
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace flotilla::report::report_json {

/// j[key] when j is an object that has it, else a null value.
inline const nlohmann::json& at(const nlohmann::json& j, const char* key) {
  static const nlohmann::json null_value;
  if (!j.is_object())
    return null_value;
  auto it = j.find(key);
  return it == j.end() ? null_value : *it;
}

/// j[key] as a number, when it is one.
inline std::optional<double> number(const nlohmann::json& j, const char* key) {
  const auto& v = at(j, key);
  if (v.is_number())
    return v.get<double>();
  return std::nullopt;
}

/// j[key] as an integer id (a number, or a string holding one: JSON object keys are strings).
inline std::optional<std::int64_t> id(const nlohmann::json& v) {
  if (v.is_number_integer())
    return v.get<std::int64_t>();
  if (v.is_number_float()) {
    // Only whole numbers an int64 holds: casting 1e300 or NaN is undefined.
    const double x = v.get<double>();
    if (x >= -9.2e18 && x <= 9.2e18 && x == static_cast<double>(static_cast<std::int64_t>(x)))
      return static_cast<std::int64_t>(x);
    return std::nullopt;
  }
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end != nullptr && *end == 0 && errno == 0)
      return x;
  }
  return std::nullopt;
}

/// j[key] as a string, when it is one.
inline std::optional<std::string> text(const nlohmann::json& j, const char* key) {
  const auto& v = at(j, key);
  if (v.is_string())
    return v.get<std::string>();
  return std::nullopt;
}

/// j[key] when it is an array, else an empty array.
inline const nlohmann::json& array(const nlohmann::json& j, const char* key) {
  static const nlohmann::json empty = nlohmann::json::array();
  const auto& v = at(j, key);
  return v.is_array() ? v : empty;
}

/// j[key] when it is an object, else an empty object.
inline const nlohmann::json& object(const nlohmann::json& j, const char* key) {
  static const nlohmann::json empty = nlohmann::json::object();
  const auto& v = at(j, key);
  return v.is_object() ? v : empty;
}

} // namespace flotilla::report::report_json
