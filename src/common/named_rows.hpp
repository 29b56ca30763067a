#pragma once
// Lookup in the program's tables of named rows (datasets, clustering methods): the row of a
// name, or the list of known names for the error that says what was meant.
#include <string>
#include <vector>

namespace flotilla {

/// The row whose `name` is `name`, or nullptr.
template <class Row>
const Row* row_named(const std::vector<Row>& rows, const std::string& name) {
  for (const auto& r : rows)
    if (r.name == name)
      return &r;
  return nullptr;
}

/// "a, b, c": every row's name, in table order.
template <class Row>
std::string row_names(const std::vector<Row>& rows) {
  std::string out;
  for (const auto& r : rows)
    out += (out.empty() ? "" : ", ") + r.name;
  return out;
}

} // namespace flotilla
