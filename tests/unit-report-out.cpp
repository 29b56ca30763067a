// `flotilla report --out PATH` replaces what is at PATH: only ever a regular file that is not
// one of the reported runs' own files.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "report/report_command.hpp"
#include "report/report_error.hpp"
#include "fixtures.hpp"
#include "report_fixture.hpp"

using namespace flotilla;
using namespace flotilla::test;

namespace {

std::string usage_error_of(const std::vector<std::string>& args) {
  try {
    report::report_command(args);
  } catch (const report::report_usage_error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("another error: ") + e.what();
  }
  return "written";
}

const std::string advice = "; choose another --out FILE (without it, one run's report goes to RUN_DIR/report.html)";

} // namespace

TEST_CASE("report --out refuses a target that is not a regular file") {
  test::temp_dir tmp;
  const auto dir = (tmp.path() / "run").string();
  write_run(dir);
  SUBCASE("a device (as root, /dev/full was replaced by a file)") {
    // A device node of our own when we may make one (as root): a build without the check
    // replaces the target, and that must never be the machine's /dev/full. Without root
    // /dev/full is safe: nobody else can rename over it.
    const auto device = tmp.file("full");
    const bool own = ::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 7)) == 0;
    const auto target = own ? device : std::string("/dev/full");
    CHECK(usage_error_of({dir, "--out", target}) ==
          "--out " + target + " is a device; a report replaces only a regular file" + advice);
    CHECK(usage_error_of({dir, "--out=" + target}) ==
          "--out " + target + " is a device; a report replaces only a regular file" + advice);
  }
  SUBCASE("a directory") {
    fs::create_directories(tmp.path() / "d");
    CHECK(usage_error_of({dir, "--out", tmp.file("d")}) ==
          "--out " + tmp.file("d") + " is a directory; a report replaces only a regular file" + advice);
  }
  SUBCASE("a FIFO") {
    REQUIRE(::mkfifo(tmp.file("fifo").c_str(), 0600) == 0);
    CHECK(usage_error_of({dir, "--out", tmp.file("fifo")}) ==
          "--out " + tmp.file("fifo") + " is a FIFO (named pipe); a report replaces only a regular file" + advice);
  }
  SUBCASE("a symbolic link to a directory, or to nothing") {
    fs::create_directories(tmp.path() / "d");
    fs::create_directory_symlink(tmp.path() / "d", tmp.path() / "link");
    CHECK(usage_error_of({dir, "--out", tmp.file("link")}) ==
          "--out " + tmp.file("link") + " is a directory (through a symbolic link); a report replaces only a "
                                        "regular file" + advice);
    fs::create_symlink(tmp.path() / "nowhere", tmp.path() / "dangling");
    CHECK(usage_error_of({dir, "--out", tmp.file("dangling")}) ==
          "--out " + tmp.file("dangling") + " is a symbolic link that points nowhere" + advice);
  }
  SUBCASE("a regular file is replaced, as before") {
    write_file(tmp.path() / "old.html", "old");
    CHECK(usage_error_of({dir, "--out", tmp.file("old.html")}) == "written");
    CHECK(read_file(tmp.path() / "old.html").find("<!DOCTYPE html>") != std::string::npos);
  }
}

TEST_CASE("report --out refuses every file of the runs it reports") {
  test::temp_dir tmp;
  const auto run = tmp.path() / "run";
  const auto dir = run.string();
  write_run(run);
  fs::create_directories(run / "checkpoint");
  write_file(run / "checkpoint" / "checkpoint.bin", "x");
  const auto config = read_file(run / "config.json");

  SUBCASE("the run's own files (--out RUN/config.json made it unreportable and unresumable)") {
    for (const char* name : {"config.json", "metrics.jsonl", "clusters.json", "summary.json"}) {
      CHECK(usage_error_of({dir, "--out", (run / name).string()}) ==
            "--out " + (run / name).string() + " is " + dir + "'s own " + name + " (the run's record)" + advice);
    }
    CHECK(usage_error_of({dir, "--out", (run / "checkpoint" / "checkpoint.bin").string()}).find(
            "'s own checkpoint/checkpoint.bin (the run's record)") != std::string::npos);
    CHECK(read_file(run / "config.json") == config);
  }
  SUBCASE("under another name: through .., a symbolic link, a hard link") {
    const auto dotted = (tmp.path() / "run" / ".." / "run" / "config.json").string();
    CHECK(usage_error_of({dir, "--out", dotted}).find("'s own config.json") != std::string::npos);
    fs::create_symlink(run / "summary.json", tmp.path() / "s.json");
    CHECK(usage_error_of({dir, "--out", tmp.file("s.json")}).find("'s own summary.json") != std::string::npos);
    fs::create_hard_link(run / "metrics.jsonl", tmp.path() / "m.html");
    CHECK(usage_error_of({dir, "--out", tmp.file("m.html")}).find("'s own metrics.jsonl") != std::string::npos);
    CHECK(read_file(run / "config.json") == config);
  }
  SUBCASE("a run file that does not exist yet, and anything among its checkpoint or models") {
    fs::remove(run / "metrics.csv");
    CHECK(usage_error_of({dir, "--out", (run / "metrics.csv").string()}).find("'s own metrics.csv") !=
          std::string::npos);
    CHECK(usage_error_of({dir, "--out", (run / "models" / "new.html").string()}).find("'s own models/new.html") !=
          std::string::npos);
  }
  SUBCASE("in a comparison, any run's files") {
    write_run(tmp.path() / "other");
    CHECK(usage_error_of({dir, (tmp.path() / "other").string(), "--out", (tmp.path() / "other/summary.json").string()})
            .find("'s own summary.json") != std::string::npos);
  }
  SUBCASE("RUN/report.html (the default) and a new file beside the run's are fine") {
    CHECK(usage_error_of({dir, "--out", (run / "report.html").string()}) == "written");
    CHECK(usage_error_of({dir}) == "written");
    CHECK(usage_error_of({dir, "--out", (run / "compare.html").string()}) == "written");
  }
}
