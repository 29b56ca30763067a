#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include <chrono>

#include "fl/resources.hpp"

using namespace flotilla;

TEST_CASE("proc stat parsing counts idle and iowait as idle") {
  auto t = fl::parse_proc_stat("cpu  100 5 50 800 45 0 0 0 0 0\ncpu0 50 2 25 400 20 0 0 0 0 0\n");
  CHECK(t.total == 1000);
  CHECK(t.busy == 155);
  CHECK_THROWS_AS(fl::parse_proc_stat("intr 1 2 3\n"), std::runtime_error);
}

TEST_CASE("cpu percent is the busy share between two readings") {
  fl::cpu_times a{100, 1000}, b{400, 2000};
  CHECK(fl::cpu_percent(a, b) == doctest::Approx(30.0));
  CHECK(fl::cpu_percent(b, b) == 0.0);
}

TEST_CASE("meminfo parsing gives psutil's percent") {
  auto m = fl::parse_meminfo("MemTotal:       16000000 kB\nMemFree:         1000000 kB\n"
                             "MemAvailable:    4000000 kB\n");
  CHECK(m.total_kb == 16000000);
  CHECK(fl::memory_percent(m) == doctest::Approx(75.0));
  CHECK_THROWS_AS(fl::parse_meminfo("MemTotal: 5 kB\n"), std::runtime_error);
}

TEST_CASE("the live host reads are sane") {
  fl::host_monitor host(/*min_interval_s=*/0.05);
  // Keep every core busy for 300 ms: whatever the core count, the host must read mostly busy.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  std::vector<std::thread> spinners;
  for (unsigned i = 0; i < std::max(1u, std::thread::hardware_concurrency()); ++i)
    spinners.emplace_back([until] {
      volatile double sink = 0;
      while (std::chrono::steady_clock::now() < until)
        sink = sink + 1;
    });
  for (auto& t : spinners)
    t.join();
  auto [cpu, mem] = host.sample();
  CHECK(cpu > 50);
  CHECK(cpu <= 100);
  CHECK(host.sample().first == cpu); // within the interval: the same window
  CHECK(mem > 0);
  CHECK(mem < 100);
  CHECK(host.memory_total_bytes() > 0);
  CHECK(fl::peak_rss_bytes() >= fl::rss_bytes());
  CHECK(fl::rss_bytes() > 0);
}
