// --config FILE is hostile until checked: a directory, a device, a FIFO, a huge or deeply nested
// file is a configuration error (exit 2) that says what was wrong, never a hang or a crash.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "child_process.hpp"
#include "config/config.hpp"
#include "fixtures.hpp"

using namespace flotilla;
namespace fs = std::filesystem;

namespace {

// resolve_config(file) in a child (bounded time): "" when it threw config_error whose message
// is `expected`, else what happened instead.
std::string config_error_in_child(const std::string& file, const std::string& expected) {
  return test::in_child(
    [&]() -> std::string {
      try {
        config::resolve_config(file, {});
      } catch (const config::config_error& e) {
        return e.what() == expected ? "" : std::string("message: ") + e.what();
      } catch (const std::exception& e) {
        return std::string("not a config_error: ") + e.what();
      }
      return "accepted";
    },
    /*seconds=*/10);
}

const std::string takes = "; --config takes a JSON file of at most 4 MiB";

} // namespace

TEST_CASE("--config refuses what is not a small regular JSON file, with a message") {
  test::temp_dir tmp;
  SUBCASE("a directory (exit 1, 'basic_filebuf::underflow error')") {
    CHECK(config_error_in_child(tmp.path().string(),
                                "config file '" + tmp.path().string() + "' is a directory, not a regular file" +
                                  takes) == "");
  }
  SUBCASE("a FIFO (it hung)") {
    REQUIRE(::mkfifo(tmp.file("fifo").c_str(), 0600) == 0);
    CHECK(config_error_in_child(tmp.file("fifo"), "config file '" + tmp.file("fifo") +
                                                    "' is a FIFO (named pipe), not a regular file" + takes) == "");
  }
  SUBCASE("/dev/zero (it read until memory ran out)") {
    CHECK(config_error_in_child("/dev/zero", "config file '/dev/zero' is a device, not a regular file" + takes) ==
          "");
  }
  SUBCASE("a file larger than any configuration") {
    { std::ofstream(tmp.file("big.json")) << "{}"; }
    fs::resize_file(tmp.file("big.json"), (std::uintmax_t{4} << 20) + 1);
    CHECK(config_error_in_child(tmp.file("big.json"), "config file '" + tmp.file("big.json") +
                                                        "' is larger than 4 MiB (4194305 bytes)" + takes) == "");
  }
  SUBCASE("deep nesting, refused before it is parsed") {
    { std::ofstream(tmp.file("deep.json")) << "{\"name\": " << std::string(500000, '[') << std::string(500000, ']') << "}"; }
    CHECK(config_error_in_child(tmp.file("deep.json"), "config file '" + tmp.file("deep.json") +
                                                         "' nests values deeper than 16 levels; no configuration "
                                                         "key needs that") == "");
  }
  SUBCASE("a missing file keeps its message") {
    CHECK(config_error_in_child(tmp.file("none.json"),
                                "config file '" + tmp.file("none.json") + "' cannot be read (does it exist?)") == "");
  }
}
