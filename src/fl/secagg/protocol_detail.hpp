#pragma once
// Internal to src/fl/secagg (not installed, not for callers: include protocol.hpp): the small
// helpers that protocol.cpp, wire.cpp, member.cpp and aggregator.cpp share.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "fl/secagg/protocol.hpp"

namespace flotilla::fl::secagg::detail {

using bytes = std::vector<std::uint8_t>;
using ids = std::vector<std::uint32_t>;

inline std::string str(std::size_t v) { return std::to_string(v); }

inline std::string hex(const key32& k) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (std::uint8_t b : k) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

inline std::string list(const ids& v) {
  std::string s;
  for (std::uint32_t id : v)
    s += (s.empty() ? "" : ", ") + std::to_string(id);
  return "{" + s + "}";
}

inline bool contains(const ids& sorted, std::uint32_t id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

inline ids intersect(const ids& a, const ids& b) {
  ids out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

/// A member's Shamir evaluation point (ids start at 0, points at 1).
inline std::uint64_t point(std::uint32_t member) { return std::uint64_t{member} + 1; }

/// The share group of every member of `roster` (sorted), by member (see share_group); defined in
/// protocol.cpp.
std::map<std::uint32_t, ids> all_groups(const ids& roster, std::size_t neighbours,
                                        const key32& round_context);

} // namespace flotilla::fl::secagg::detail
