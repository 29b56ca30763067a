#pragma once
// Stands in for CAF's own unit_test.hpp (this folder comes first on the include path of the
// actor tests), so caf/test/dsl.hpp's deterministic test coordinator reports through doctest:
// without it the DSL's first check dereferences CAF's absent test engine (docs/caf-notes.md §7).
#include <doctest/doctest.h>

#include "caf/deep_to_string.hpp"
#include "caf/detail/arg_wrapper.hpp"
#include "caf/detail/type_traits.hpp"
#include "caf/fwd.hpp"
#include "caf/logger.hpp"
#include "caf/optional.hpp"
#include "caf/term.hpp"
#include "caf/variant.hpp"

namespace caf::test {
struct engine { // test_coordinator_fixture parses these
  static int argc() { return 1; }
  static char** argv() {
    static char name[] = "doctest";
    static char* args[] = {name, nullptr};
    return args;
  }
};
} // namespace caf::test

#define CAF_MESSAGE(msg) MESSAGE(msg)
#define CAF_FAIL(msg) FAIL(msg)
#define CAF_CHECK(...) CHECK(__VA_ARGS__)
#define CAF_REQUIRE(...) REQUIRE(__VA_ARGS__)
#define CAF_CHECK_EQUAL(x, y) CHECK_EQ(x, y)
#define CAF_REQUIRE_EQUAL(x, y) REQUIRE_EQ(x, y)
