// One process per run directory: a run, a resume and an overwrite each hold the directory's lock
// for their whole life, and a second one is refused naming the holder.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include "app/run_directory.hpp"
#include "app/run_lock.hpp"
#include "config/config.hpp"
#include "config/settings.hpp"
#include "fixtures.hpp"

using namespace flotilla;
namespace fs = std::filesystem;

namespace {

config::settings run_in(const std::string& dir, bool overwrite) {
  return config::settings_from(config::resolve_config(
    "", {"output.run_dir=" + dir, std::string("output.overwrite=") + (overwrite ? "true" : "false")}));
}

std::string busy_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const app::run_busy_error& e) {
    return e.what();
  }
  return "not refused";
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

} // namespace

TEST_CASE("a run directory's lock refuses a second holder and names the first") {
  test::temp_dir tmp;
  const auto dir = tmp.file("run");
  fs::create_directories(dir);
  {
    app::run_lock first(dir);
    const auto message = busy_message([&] { app::run_lock second(dir); });
    CHECK(message.find("run directory " + dir + " is in use by pid " + std::to_string(::getpid())) == 0);
    CHECK(message.find("wait for it to end") != std::string::npos);
  }
  app::run_lock again(dir); // released with its holder
  CHECK(fs::is_regular_file(fs::path(dir) / ".lock"));
}

TEST_CASE("a process holding a run directory keeps it until it dies, however it dies") {
  test::temp_dir tmp;
  const auto dir = tmp.file("run");
  fs::create_directories(dir);
  int ready[2], go[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(go) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    app::run_lock held(dir);
    (void)!::write(ready[1], "x", 1);
    char c;
    (void)!::read(go[0], &c, 1); // killed while waiting here, like a run ended by kill -9 or _Exit
    ::_exit(0);
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  const auto message = busy_message([&] { app::run_directory resume(dir); });
  CHECK(message.find("is in use by pid " + std::to_string(child) + " (") != std::string::npos);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK_NOTHROW(app::run_directory{dir});
  for (int fd : {ready[0], ready[1], go[0], go[1]})
    ::close(fd);
}

TEST_CASE("two resumes, or a resume during the run, cannot share a run directory") {
  test::temp_dir tmp;
  const auto dir = tmp.file("run");
  SUBCASE("a resume while the run runs") {
    app::run_directory running(run_in(dir, false));
    CHECK(busy_message([&] { app::run_directory resume(dir); }).find("is in use by pid") != std::string::npos);
  }
  SUBCASE("two resumes") {
    fs::create_directories(dir);
    app::run_directory first(dir);
    CHECK(busy_message([&] { app::run_directory second(dir); }).find("is in use by pid") != std::string::npos);
  }
  SUBCASE("a second run into the same output.run_dir") {
    app::run_directory running(run_in(dir, false));
    CHECK(busy_message([&] { app::run_directory second(run_in(dir, false)); }).find("is in use by pid") !=
          std::string::npos);
    CHECK(fs::is_directory(dir)); // the refused run removed nothing of the first one's
  }
}

TEST_CASE("output.overwrite never clears a run that is in progress") {
  test::temp_dir tmp;
  const auto dir = tmp.file("run");
  auto first = std::make_unique<app::run_directory>(run_in(dir, true));
  write_text(first->file("config.json"), "{}");
  write_text(first->file("metrics.jsonl"), "{\"round\": 1}\n");
  first->keep();

  const auto message = busy_message([&] { app::run_directory second(run_in(dir, true)); });
  CHECK(message.find("is in use by pid " + std::to_string(::getpid())) != std::string::npos);
  CHECK(fs::exists(fs::path(dir) / "metrics.jsonl"));
  CHECK_FALSE(fs::exists(dir + ".replaced-" + std::to_string(::getpid())));

  first.reset(); // the first run ended: now it may be overwritten
  SUBCASE("an overwrite that fails before recording puts the earlier run back") {
    {
      app::run_directory second(run_in(dir, true));
      CHECK_FALSE(fs::exists(fs::path(dir) / "metrics.jsonl"));
      CHECK(fs::exists(fs::path(dir) / "models"));
      // and it holds the directory while it runs
      CHECK(busy_message([&] { app::run_directory third(dir); }).find("is in use") != std::string::npos);
    }
    CHECK(fs::exists(fs::path(dir) / "metrics.jsonl"));
    CHECK(fs::exists(fs::path(dir) / "config.json"));
    CHECK_FALSE(fs::exists(dir + ".replaced-" + std::to_string(::getpid())));
  }
  SUBCASE("an overwrite that records something replaces it") {
    {
      app::run_directory second(run_in(dir, true));
      second.keep();
    }
    CHECK_FALSE(fs::exists(fs::path(dir) / "metrics.jsonl"));
    CHECK_FALSE(fs::exists(dir + ".replaced-" + std::to_string(::getpid())));
  }
}

TEST_CASE("a run that fails before recording leaves no lock file behind") {
  test::temp_dir tmp;
  SUBCASE("a directory it made") {
    { app::run_directory d(run_in(tmp.file("new"), false)); }
    CHECK_FALSE(fs::exists(tmp.file("new")));
  }
  SUBCASE("an empty directory it was given") {
    fs::create_directories(tmp.file("empty"));
    { app::run_directory d(run_in(tmp.file("empty"), false)); }
    CHECK(fs::exists(tmp.file("empty")));
    CHECK_FALSE(fs::exists(tmp.file("empty/.lock")));
  }
}
