// checkpoint/checkpoint.bin is read only when it is a regular file: /dev/zero in its place was
// read until memory ran out, a FIFO blocked the resume for ever.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "app/checkpoint_file.hpp"
#include "child_process.hpp"
#include "fixtures.hpp"

using namespace flotilla;
namespace fs = std::filesystem;

namespace {

// read_checkpoint in a child (bounded time and memory): "" when it threw checkpoint_error with
// `expected`, else what happened instead.
std::string refused_in_child(const std::string& dir, const std::string& expected) {
  return test::in_child(
    [&]() -> std::string {
      try {
        app::read_checkpoint(dir, "run-a");
      } catch (const app::checkpoint_error& e) {
        return e.what() == expected ? "" : std::string("message: ") + e.what();
      } catch (const std::exception& e) {
        return std::string("not a checkpoint_error: ") + e.what();
      }
      return "accepted";
    },
    /*seconds=*/10, /*address_space=*/std::size_t{4} << 30);
}

} // namespace

TEST_CASE("a checkpoint.bin that is not a regular file is refused, never read") {
  test::temp_dir tmp;
  const auto dir = tmp.path().string();
  const auto file = tmp.path() / "checkpoint" / "checkpoint.bin";
  fs::create_directories(file.parent_path());
  const std::string damaged = "; the checkpoint is damaged and cannot be resumed";
  SUBCASE("/dev/zero") {
    fs::create_symlink("/dev/zero", file);
    CHECK(refused_in_child(dir, file.string() + ": is a device, not a regular file" + damaged) == "");
  }
  SUBCASE("a FIFO") {
    REQUIRE(::mkfifo(file.c_str(), 0600) == 0);
    CHECK(refused_in_child(dir, file.string() + ": is a FIFO (named pipe), not a regular file" + damaged) == "");
  }
  SUBCASE("a directory") {
    fs::create_directory(file);
    CHECK(refused_in_child(dir, file.string() + ": is a directory, not a regular file" + damaged) == "");
  }
}
