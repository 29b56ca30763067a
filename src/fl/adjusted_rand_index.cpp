#include "fl/adjusted_rand_index.hpp"

#include <map>
#include <stdexcept>
#include <utility>

namespace flotilla::fl {

namespace {
double pairs(double n) {
  return n * (n - 1) / 2;
}
} // namespace

double adjusted_rand_index(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  if (a.size() != b.size())
    throw std::invalid_argument("adjusted_rand_index: labelings of different lengths");
  std::map<std::pair<std::int64_t, std::int64_t>, double> table;
  std::map<std::int64_t, double> rows, cols;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ++table[{a[i], b[i]}];
    ++rows[a[i]];
    ++cols[b[i]];
  }
  double index = 0, sum_rows = 0, sum_cols = 0;
  for (const auto& [key, n] : table)
    index += pairs(n);
  for (const auto& [key, n] : rows)
    sum_rows += pairs(n);
  for (const auto& [key, n] : cols)
    sum_cols += pairs(n);
  double total = pairs(static_cast<double>(a.size()));
  if (total == 0)
    return 1.0;
  double expected = sum_rows * sum_cols / total;
  double max_index = (sum_rows + sum_cols) / 2;
  if (max_index == expected)
    return 1.0; // both labelings trivial (all one cluster, or all singletons)
  return (index - expected) / (max_index - expected);
}

} // namespace flotilla::fl
