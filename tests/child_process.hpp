#pragma once
// Runs one hostile input in a forked child, so a crash or a hang is reported as a failed check
// instead of ending the test executable. Only the forking thread exists in the child: keep
// the work there to plain code on data (no new actor system, no waiting on other threads).
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

namespace flotilla::test {

/// Runs `f` (returning "" on success, else what went wrong) in a child limited to `seconds` of
/// wall time and `address_space` bytes. Returns "" when the child returned "", else the
/// failure text, "crashed with signal N (name)", "hung (...)", or, when `max_rss` is not 0
/// and the child's peak RSS grew by more than that beyond the parent's, "used N MiB more".
template <class F>
std::string in_child(F&& f, int seconds = 10, std::size_t address_space = std::size_t{4} << 30,
                     std::size_t max_rss = 0) {
  std::fflush(nullptr);
  std::size_t resident_pages = 0, ignored = 0;
  if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%zu %zu", &ignored, &resident_pages) != 2)
      resident_pages = 0;
    std::fclose(statm);
  }
  auto start_rss = resident_pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    // The parent reports what happened: no doctest crash handlers in the child.
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGALRM})
      std::signal(sig, SIG_DFL);
    ::alarm(static_cast<unsigned>(seconds));
    rlimit as{address_space, address_space};
    ::setrlimit(RLIMIT_AS, &as);
    std::string failure = f();
    (void)!::write(fds[1], failure.data(), failure.size());
    ::_exit(failure.empty() ? 0 : 1);
  }
  ::close(fds[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) > 0;)
    msg.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  auto peak = static_cast<std::size_t>(usage.ru_maxrss) * 1024;
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return sig == SIGALRM ? "hung (no answer within " + std::to_string(seconds) + " s)"
                          : std::string("crashed with signal ") + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  if (WEXITSTATUS(status) != 0)
    return msg.empty() ? "exit status " + std::to_string(WEXITSTATUS(status)) : msg;
  if (max_rss != 0 && peak > start_rss + max_rss)
    return "used " + std::to_string((peak - start_rss) >> 20) + " MiB more than its parent";
  return "";
}

} // namespace flotilla::test
