// A run directory's files are hostile until checked: the report refuses what no run writes (a
// device, a FIFO, a directory, a huge or deeply nested file) with report_error, and never
// crashes, hangs or holds memory out of proportion to what it draws.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "report/report.hpp"
#include "report/report_error.hpp"
#include "report/inputs.hpp"
#include "child_process.hpp"
#include "fixtures.hpp"
#include "report_fixture.hpp"

using namespace flotilla;
using namespace flotilla::test;

namespace {

// The report of `dir` in a child (bounded time and memory): "" when it refused with a
// report_error whose message contains every one of `expected`, else what happened instead.
std::string refused_in_child(const fs::path& dir, const std::vector<std::string>& expected,
                             std::size_t max_rss = std::size_t{400} << 20) {
  const auto out = (dir.parent_path() / "r.html").string();
  return in_child(
    [&]() -> std::string {
      try {
        report::write_report({dir.string()}, out);
      } catch (const report::report_error& e) {
        const std::string message = e.what();
        for (const auto& part : expected)
          if (message.find(part) == std::string::npos)
            return "message lacks '" + part + "': " + message;
        return "";
      } catch (const std::exception& e) {
        return std::string("not a report_error: ") + e.what();
      }
      return "the report was written";
    },
    /*seconds=*/20, /*address_space=*/std::size_t{4} << 30, max_rss);
}

std::string nested(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

} // namespace

TEST_CASE("a run file that is not a regular file is refused, never read") {
  test::temp_dir tmp;
  const auto dir = tmp.path() / "run";
  write_run(dir);
  SUBCASE("metrics.jsonl is a directory (it gave an empty report, exit 0)") {
    fs::remove(dir / "metrics.jsonl");
    fs::create_directory(dir / "metrics.jsonl");
    CHECK(refused_in_child(dir, {(dir / "metrics.jsonl").string() + " is a directory, not a regular file"}) == "");
  }
  SUBCASE("summary.json is /dev/zero (it read until bad_alloc)") {
    fs::remove(dir / "summary.json");
    fs::create_symlink("/dev/zero", dir / "summary.json");
    CHECK(refused_in_child(dir, {"summary.json is a device, not a regular file"}) == "");
  }
  SUBCASE("clusters.json is a FIFO (it hung)") {
    fs::remove(dir / "clusters.json");
    REQUIRE(::mkfifo((dir / "clusters.json").c_str(), 0600) == 0);
    CHECK(refused_in_child(dir, {"clusters.json is a FIFO (named pipe), not a regular file"}) == "");
  }
  SUBCASE("config.json is larger than any run writes") {
    fs::resize_file(dir / "config.json", report::report_max_file_bytes + 1); // sparse: no disk used
    CHECK(refused_in_child(dir, {"config.json is larger than 64 MiB"}) == "");
  }
}

TEST_CASE("deep nesting in any run file is refused before anything recurses on it") {
  test::temp_dir tmp;
  const auto dir = tmp.path() / "run";
  write_run(dir);
  SUBCASE("config.json (it crashed the report)") {
    write_file(dir / "config.json", "{\"name\": \"x\", \"deep\": " + nested(200000) + "}");
    CHECK(refused_in_child(dir, {"config.json nests values 200001 levels deep, more than the 16"}) == "");
  }
  SUBCASE("summary.json") {
    write_file(dir / "summary.json", "{\"attack\": " + nested(100000) + "}");
    CHECK(refused_in_child(dir, {"summary.json nests values"}) == "");
  }
  SUBCASE("a line of metrics.jsonl") {
    write_file(dir / "metrics.jsonl", metrics_line("initial", 1, nullptr, 6, {}, 0.9, 0.5) +
                                        "{\"failed\": " + nested(100000) + "}\n");
    CHECK(refused_in_child(dir, {"metrics.jsonl line 2 nests values"}) == "");
  }
  SUBCASE("brackets inside strings are text, not nesting") {
    write_file(dir / "config.json", json{{"name", std::string(1000, '[') + "\\\"{"}}.dump());
    CHECK_NOTHROW(report::write_report({dir.string()}, tmp.file("r.html")));
  }
}

TEST_CASE("the report's memory follows what it draws, not what a file claims") {
  test::temp_dir tmp;
  const auto dir = tmp.path() / "run";
  write_run(dir);
  SUBCASE("a metrics.jsonl of millions of tiny values (79 MB took 2 GB)") {
    std::string line = "{\"failed\": [0";
    for (int i = 0; i < 2'100'000; ++i)
      line += ",0";
    write_file(dir / "metrics.jsonl", line + "]}\n");
    CHECK(refused_in_child(dir, {"metrics.jsonl line 1 takes the run past 2000000 JSON values"},
                           std::size_t{200} << 20) == "");
  }
  SUBCASE("a clusters.json whose clients fall into thousands of clusters and groups (2 MB took 3.4 GB)") {
    json clusters{{"clusters", json::array()}, {"true_groups", json::object()}};
    for (int c = 0; c < 3000; ++c) {
      clusters["clusters"].push_back({{"id", c}, {"members", {c}}});
      clusters["true_groups"][std::to_string(c)] = c;
    }
    write_file(dir / "clusters.json", clusters.dump());
    auto summary = json::parse(read_file(dir / "summary.json"));
    summary["clients"] = json::object();
    summary["clustering"].erase("assignment");
    write_file(dir / "summary.json", summary.dump());
    CHECK(refused_in_child(dir, {"3000 clusters and 3000 true groups, a table of more than 1000000 cells"},
                           std::size_t{200} << 20) == "");
  }
}

TEST_CASE("report names what it was given when it is not a run directory") {
  test::temp_dir tmp;
  write_file(tmp.path() / "summary.json", "{}");
  const auto file = tmp.file("summary.json");
  CHECK_THROWS_WITH_AS(report::write_report({file}, tmp.file("r.html")),
                       (file + " is not a run directory (it is a file, not a directory); pass the directory a run "
                               "printed at its end ('run directory: ...')")
                         .c_str(),
                       report::report_error);
}
