#pragma once
// JSON for the records of fl/record_fields.hpp, generated from their field lists: the one JSON
// form of a round (metrics.jsonl, checkpoints, the report's reader), an election, a score, a
// late joiner, a fault. Reading is tolerant of a missing field (an older run's file: the
// field keeps its default) and strict about a present one of the wrong type (json::type_error).
#include <nlohmann/json.hpp>

#include "fl/record_fields.hpp"

namespace flotilla::app {

namespace detail {

struct json_writer {
  nlohmann::json& j;
  template <class T>
  void operator()(const char* name, const T& v) const {
    j[name] = v;
  }
  template <class T, class N>
  void operator()(const char* name, const T& v, const N& none) const {
    j[name] = v == static_cast<T>(none) ? nlohmann::json(nullptr) : nlohmann::json(v);
  }
};

struct json_reader {
  const nlohmann::json& j;
  template <class T>
  void operator()(const char* name, T& v) const {
    auto it = j.find(name);
    if (it != j.end())
      it->get_to(v);
  }
  template <class T, class N>
  void operator()(const char* name, T& v, const N& none) const {
    auto it = j.find(name);
    if (it == j.end())
      return;
    if (it->is_null())
      v = static_cast<T>(none);
    else
      it->get_to(v);
  }
};

} // namespace detail

} // namespace flotilla::app

// nlohmann finds these by ADL on the records' namespace.
namespace flotilla::fl {

#define FLOTILLA_RECORD_JSON(type, list)                                          \
  inline void to_json(nlohmann::json& j, const type& x) {                          \
    j = nlohmann::json::object();                                                  \
    list(x, app::detail::json_writer{j});                                          \
  }                                                                                \
  inline void from_json(const nlohmann::json& j, type& x) {                        \
    if (!j.is_object())                                                            \
      throw nlohmann::json::type_error::create(302, #type " must be an object", &j); \
    list(x, app::detail::json_reader{j});                                          \
  }

FLOTILLA_RECORD_JSON(round_record, round_record_fields)
FLOTILLA_RECORD_JSON(election, election_fields)
FLOTILLA_RECORD_JSON(client_score, client_score_fields)
FLOTILLA_RECORD_JSON(late_join_record, late_join_fields)
FLOTILLA_RECORD_JSON(applied_fault, applied_fault_fields)
FLOTILLA_RECORD_JSON(cluster_report, cluster_report_fields)
FLOTILLA_RECORD_JSON(summary_final, summary_final_fields)
FLOTILLA_RECORD_JSON(summary_timing, summary_timing_fields)
FLOTILLA_RECORD_JSON(summary_client, summary_client_fields)

#undef FLOTILLA_RECORD_JSON

} // namespace flotilla::fl

namespace flotilla::app {

/// A round as one metrics.jsonl line (without the newline): every field of round_record_fields.
inline std::string metrics_line(const fl::round_record& r) {
  return nlohmann::json(r).dump();
}

} // namespace flotilla::app
