#pragma once
// A look at JSON text before it is parsed: how deep it nests and how many values it holds at
// most. Parsing is cheap, but what follows is not: printing, flattening or copying a value
// recurses once per level (a document nested 100,000 deep exhausts the stack), and a parsed
// value costs up to ~100 bytes per value however short its text.
#include <cstddef>
#include <string_view>

namespace flotilla {

/// The nesting depth of JSON text (a scalar is 0, [1] is 1) and an upper bound on its values.
struct json_shape {
  std::size_t depth = 0;
  std::size_t values = 0;
};

/// Measures `text` in one pass without recursion or allocation. Exact for valid JSON; for
/// invalid text it is a bound the parser then refuses anyway.
inline json_shape measure_json(std::string_view text) {
  json_shape shape;
  std::size_t depth = 0;
  bool in_string = false, escaped = false, any = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
    case '"':
      in_string = true;
      any = true;
      break;
    case '[':
    case '{':
      ++shape.values; // the container itself; its elements are counted by the commas
      if (++depth > shape.depth)
        shape.depth = depth;
      break;
    case ']':
    case '}':
      if (depth > 0)
        --depth;
      break;
    case ',':
      ++shape.values;
      break;
    case ' ':
    case '\t':
    case '\r':
    case '\n':
      break;
    default:
      any = true;
    }
  }
  if (any || shape.values > 0)
    ++shape.values; // the first element (or the lone scalar)
  return shape;
}

} // namespace flotilla
