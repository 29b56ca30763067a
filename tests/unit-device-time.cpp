#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "fl/device_time.hpp"
#include "fl/availability.hpp"
#include "fl/devices.hpp"

using namespace flotilla;

TEST_CASE("a fit's device time is download + FedScale's compute + upload (hand-computed)") {
  fl::device d{10, 8000, 0, 0, {}}; // 10 ms a sample, 8 Mbit/s
  // 100 samples in batches of 32: 4 steps an epoch (the last one short), 2 epochs: 8 steps.
  // compute 3 x 32 x 8 x 10 ms = 7.68 s; 1,000,000 bytes over 8,000 kbit/s = 1 s each way.
  auto t = fl::fit_seconds(d, 100, 32, 2, 1000000);
  CHECK(t.compute == doctest::Approx(7.68));
  CHECK(t.download == doctest::Approx(1.0));
  CHECK(t.upload == doctest::Approx(1.0));
  CHECK(t.total() == doctest::Approx(9.68));
  CHECK(fl::fit_seconds(d, 0, 32, 2, 0).total() == 0);
  CHECK(fl::transfer_seconds(2500, 20) == doctest::Approx(1.0)); // 20,000 bits at 20 kbit/s
}

TEST_CASE("a promoted server's link carries the model out and the updates in; it folds them at its speed") {
  fl::device d{6, 16000, 0, 0, {}};
  auto t = fl::server_seconds(d, 4, 3, 2000000); // 2 MB over 16 Mbit/s: 1 s a model
  CHECK(t.send == doctest::Approx(4.0));
  CHECK(t.receive == doctest::Approx(3.0));
  CHECK(t.aggregate == doctest::Approx(3 * 0.006 / 3)); // a third of a sample's time per update
  fl::device_clock clock({d, fl::device{20, 8000, 0, 0, {}}}, {64, 640}, 32, 1000000);
  CHECK(clock.fit_seconds(1, 1) == doctest::Approx(3 * 32 * 20 * 20 / 1000.0 + 2.0));
  CHECK(clock.server_seconds(0, 2, 2).send == doctest::Approx(1.0));
}

TEST_CASE("a synchronous round ends with its last update in time, or at its deadline when one is late") {
  fl::round_timing t;
  t.start = 100;
  t.deadline_s = 50;
  t.completion = {110, 120};
  CHECK(fl::round_end(t) == doctest::Approx(120));
  t.completion.push_back(200); // misses the deadline at 150: the round waited for it until then
  CHECK_FALSE(fl::makes_deadline(t, 200));
  CHECK(fl::round_end(t) == doctest::Approx(150));
  t.completion = {110, std::numeric_limits<double>::infinity()}; // a hang
  CHECK(fl::round_end(t) == doctest::Approx(150));
  // A slow server link holds the round past its members; then it aggregates.
  t.completion = {110, 120};
  t.server = {5, 20, 0.5};
  CHECK(fl::round_end(t) == doctest::Approx(125.5));
  t.server = {1, 2, 0.5};
  CHECK(fl::round_end(t) == doctest::Approx(120.5));
}

TEST_CASE("a device is a function of (seed, client): the same everywhere, spread as configured") {
  fl::device_options o;
  o.ms_per_sample = 5;
  o.speed_sigma = 1;
  o.kbps = 20000;
  auto a = fl::draw_device(o, 42, 7), b = fl::draw_device(o, 42, 7), c = fl::draw_device(o, 42, 8);
  CHECK(a.ms_per_sample == b.ms_per_sample);
  CHECK(a.cpu == b.cpu);
  CHECK(a.ms_per_sample != c.ms_per_sample);
  CHECK(fl::draw_device(o, 43, 7).ms_per_sample != a.ms_per_sample);
  // Lognormal: the median is the configured one, and sigma = 1 spreads the middle 68% over e^2.
  auto fleet = fl::make_devices(o, 1, 20001);
  std::vector<double> ms;
  for (const auto& d : fleet) {
    ms.push_back(d.ms_per_sample);
    CHECK(d.kbps == doctest::Approx(20000)); // bandwidth_sigma = 0: every link alike
    CHECK((d.cpu > 0 && d.cpu < 100 && d.mem > 0 && d.mem < 100));
  }
  std::sort(ms.begin(), ms.end());
  CHECK(ms[10000] == doctest::Approx(5).epsilon(0.05));
  CHECK(std::log(ms[16827] / ms[3173]) == doctest::Approx(2.0).epsilon(0.05)); // +-1 sigma quantiles
  o.speed_sigma = 0;
  CHECK(fl::draw_device(o, 1, 3).ms_per_sample == 5);
  o.speed = "pareto";
  o.pareto_alpha = 2;
  auto pareto = fl::make_devices(o, 1, 10000);
  double least = 1e9, above_double = 0;
  for (const auto& d : pareto) {
    least = std::min(least, d.ms_per_sample);
    above_double += d.ms_per_sample > 10 ? 1 : 0;
  }
  CHECK(least >= 5); // the scale is the fastest device
  CHECK(above_double / 10000 == doctest::Approx(0.25).epsilon(0.1)); // P(X > 2 x_m) = 2^-alpha
}

TEST_CASE("a device file: a list or an object by client id; every bad entry is named") {
  auto list = fl::parse_devices(R"([{"ms_per_sample": 12.5, "kbps": 3000}, {"ms_per_sample": 1, "kbps": 9, "cpu": 30, "mem": 40}])", 2);
  CHECK(list[0].ms_per_sample == 12.5);
  CHECK(list[1].cpu == 30);
  auto by_id = fl::parse_devices(R"({"1": {"ms_per_sample": 2, "kbps": 5}, "0": {"ms_per_sample": 3, "kbps": 6}})", 2);
  CHECK(by_id[0].ms_per_sample == 3);
  CHECK(by_id[1].kbps == 5);
  auto refused = [](const std::string& text, std::uint32_t clients, const std::string& says) {
    try {
      fl::parse_devices(text, clients);
      FAIL("accepted: " << text);
    } catch (const std::invalid_argument& e) {
      CHECK_MESSAGE(std::string(e.what()).find(says) != std::string::npos, e.what());
    }
  };
  refused(R"([{"ms_per_sample": 1, "kbps": 1}])", 2, "client 1 has no entry");
  refused(R"([{"ms_per_sample": -1, "kbps": 1}])", 1, "\"ms_per_sample\" is -1");
  refused(R"([{"ms_per_sample": 1, "kbps": "fast"}])", 1, "not a number");
  refused(R"([{"ms_per_sample": 1}])", 1, "no \"kbps\"");
  refused(R"([{"ms_per_sample": 1, "kbps": 1, "cpu": 170}])", 1, "\"cpu\" is 170");
  refused(R"([3])", 1, "not an object");
  refused(R"({"devices": )", 1, "not JSON");
  refused(R"("a string")", 1, "a list of devices");
}

TEST_CASE("devices come and go: alternating periods, a pure function of (seed, client)") {
  fl::availability_options always;
  CHECK(fl::online_at(always, 1, 2, 1e9));
  CHECK(std::isinf(fl::period_at(always, 1, 2, 5).end));
  fl::availability_options o{300, 100}; // online 3/4 of the time in the long run
  CHECK(fl::online_at(o, 1, 0, 0)); // every client starts online
  auto p = fl::period_at(o, 1, 7, 5000), q = fl::period_at(o, 1, 7, 5000);
  CHECK(p.online == q.online);
  CHECK(p.end == q.end);
  CHECK(p.end > 5000);
  // Sampled on a grid over many clients and a long time, the online share is 300 / (300 + 100).
  double on = 0, n = 0;
  for (std::uint32_t c = 0; c < 200; ++c)
    for (double t = 1000; t < 50000; t += 997) {
      on += fl::online_at(o, 9, c, t) ? 1 : 0;
      n += 1;
    }
  CHECK(on / n == doctest::Approx(0.75).epsilon(0.03));
  // online_throughout: up to the end of the period only.
  auto first = fl::period_at(o, 3, 4, 0);
  CHECK(fl::online_throughout(o, 3, 4, 0, first.end * 0.5));
  CHECK_FALSE(fl::online_throughout(o, 3, 4, 0, first.end + 1));
}

TEST_CASE("an availability trace: online from active[i] until inactive[i], repeating every finish_time") {
  auto inf = std::numeric_limits<double>::infinity();
  auto is = [](fl::period p, bool online, double end) {
    CHECK(p.online == online);
    CHECK(p.end == end);
  };
  // Online [10, 20), [50, 60), [80, 100): the last interval has no "inactive", so it runs to finish_time.
  auto a = fl::make_trace({10, 50, 80}, {20, 60}, 100);
  CHECK(a.start == std::vector<double>{10, 50, 80});
  CHECK(a.end == std::vector<double>{20, 60, 100});
  is(fl::period_at(a, 0), false, 10);
  is(fl::period_at(a, 10), true, 20); // a start is inside the interval
  is(fl::period_at(a, 19.5), true, 20);
  is(fl::period_at(a, 20), false, 50); // an end is outside it
  is(fl::period_at(a, 55), true, 60);
  is(fl::period_at(a, 60), false, 80);
  is(fl::period_at(a, 80), true, 100);
  is(fl::period_at(a, 99), true, 100); // [80, 100) does not wrap: active[0] is 10, not 0
  // After finish_time the trace repeats: cycle k is [100 k, 100 (k + 1)).
  is(fl::period_at(a, 100), false, 110);
  is(fl::period_at(a, 215), true, 220);
  is(fl::period_at(a, 260), false, 280);
  is(fl::period_at(a, 1e6 + 55), true, 1e6 + 60);

  // Online at the end of a cycle and at the start of the next: one period, across the wrap.
  auto w = fl::make_trace({0, 40}, {10, 100}, 100);
  is(fl::period_at(w, 5), true, 10);
  is(fl::period_at(w, 10), false, 40);
  is(fl::period_at(w, 50), true, 110);
  is(fl::period_at(w, 100), true, 110);
  is(fl::period_at(w, 150), true, 210);
  // One interval over the whole cycle: always online.
  is(fl::period_at(fl::make_trace({0}, {}, 30), 1e9), true, inf);
  is(fl::period_at(fl::make_trace({0}, {30}, 30), 7), true, inf);
  // Intervals that touch are one period.
  auto t = fl::make_trace({0, 10}, {10, 20}, 50);
  CHECK(t.start.size() == 1);
  is(fl::period_at(t, 5), true, 20);
  is(fl::period_at(t, 10), true, 20);
  is(fl::period_at(t, 20), false, 50);
  is(fl::period_at(t, 50), true, 70); // ends at 20 < 50: no wrap
  // A long trace is searched, not walked: online [2i, 2i + 1) for 50,000 intervals, far out.
  std::vector<double> on, off;
  for (int i = 0; i < 50000; ++i) {
    on.push_back(2.0 * i);
    off.push_back(2.0 * i + 1);
  }
  auto big = fl::make_trace(on, off, 100000);
  is(fl::period_at(big, 1e9 + 12344.25), true, 1e9 + 12345);
  is(fl::period_at(big, 1e9 + 12345.5), false, 1e9 + 12346);
  is(fl::period_at(big, 1e9 + 99999.5), false, 1e9 + 100000);

  // Malformed traces are named by key and index.
  auto refused = [](const std::vector<double>& active, const std::vector<double>& inactive, double finish,
                    const std::string& says) {
    try {
      fl::make_trace(active, inactive, finish);
      FAIL("accepted a trace that should say: " << says);
    } catch (const std::invalid_argument& e) {
      CHECK_MESSAGE(std::string(e.what()).find(says) != std::string::npos, e.what());
    }
  };
  refused({}, {}, 10, "\"active\" is empty");
  refused({1}, {2, 3}, 10, "\"inactive\" has 2 times for 1");
  refused({1, 2, 3}, {1.5}, 10, "\"inactive\" has 1 times for 3");
  refused({-1}, {2}, 10, "\"active\"[0] = -1: a time must be finite and at least 0");
  refused({1, inf}, {2}, 10, "\"active\"[1] = inf");
  refused({1}, {std::nan("")}, 10, "\"inactive\"[0] = nan");
  refused({10}, {10}, 20, "\"inactive\"[0] = 10 is not after \"active\"[0] = 10");
  refused({10, 5}, {20}, 30, "\"active\"[1] = 5 is before \"inactive\"[0] = 20");
  refused({10}, {20}, 15, "\"finish_time\" is 15");
  refused({10, 30}, {20}, 30, "\"finish_time\" is 30"); // [30, 30) would be empty
  refused({10}, {20}, inf, "\"finish_time\" is inf");
  CHECK(fl::make_trace({10}, {20}, 20).end.back() == 20); // ending at finish_time is fine
}

TEST_CASE("a client with a trace follows it; one without follows devices.online_s / offline_s") {
  fl::device traced{1, 1, 0, 0, {}};
  traced.trace = fl::make_trace({10}, {20}, 100);
  fl::device plain{1, 1, 0, 0, {}};
  fl::availability_options drawn{300, 100};
  auto p = fl::client_period(traced, drawn, 3, 0, 15);
  CHECK(p.online);
  CHECK(p.end == 20);
  CHECK_FALSE(fl::client_period(traced, {}, 3, 0, 25).online); // the trace wins over "always online"
  for (double t : {0.0, 500.0, 5000.0}) {
    auto q = fl::client_period(plain, drawn, 3, 1, t), r = fl::period_at(drawn, 3, 1, t);
    CHECK(q.online == r.online);
    CHECK(q.end == r.end);
  }
  CHECK(std::isinf(fl::client_period(plain, {}, 3, 1, 5000).end));
  fl::device_clock clock({traced, plain}, {10, 10}, 5, 1000, drawn, 3);
  CHECK_FALSE(clock.online(0, 5));
  CHECK(clock.online(0, 110));
  CHECK(clock.period_of(0, 110).end == 120);
  CHECK(clock.period_of(1, 5000).end == fl::period_at(drawn, 3, 1, 5000).end);
  CHECK(clock.online(1, 0)); // drawn periods start online
}

TEST_CASE("a device file entry may carry a FedScale behaviour trace; a bad one is named") {
  auto fleet = fl::parse_devices(
    R"([{"ms_per_sample": 1, "kbps": 2, "active": [10, 50], "inactive": [20], "finish_time": 100},
        {"ms_per_sample": 1, "kbps": 2}])",
    2);
  CHECK(fleet[0].trace.start == std::vector<double>{10, 50});
  CHECK(fleet[0].trace.end == std::vector<double>{20, 100});
  CHECK(fleet[0].trace.finish == 100);
  CHECK(fleet[1].trace.empty());
  auto refused = [](const std::string& trace, const std::string& says) {
    auto text = R"([{"ms_per_sample": 1, "kbps": 2}, {"ms_per_sample": 1, "kbps": 2, )" + trace + "}]";
    try {
      fl::parse_devices(text, 2);
      FAIL("accepted: " << text);
    } catch (const std::invalid_argument& e) {
      CHECK_MESSAGE(std::string(e.what()).find(says) != std::string::npos, e.what());
    }
  };
  refused(R"("active": [1], "inactive": [2])", "client 1: no \"finish_time\"");
  refused(R"("active": [1], "finish_time": 5)", "client 1: no \"inactive\"");
  refused(R"("active": 1, "inactive": [2], "finish_time": 5)", "client 1: \"active\" is number, not a list");
  refused(R"("active": [1, "x"], "inactive": [2], "finish_time": 5)", "client 1: \"active\"[1] is string");
  refused(R"("active": [1], "inactive": [2], "finish_time": "5")", "client 1: \"finish_time\" is string");
  refused(R"("active": [5, 1], "inactive": [6], "finish_time": 9)", "client 1: \"active\"[1] = 1 is before");
  refused(R"("active": [1], "inactive": [-2], "finish_time": 5)", "client 1: \"inactive\"[0] = -2");
  refused(R"("active": [1, 3], "inactive": [2], "finish_time": 3)", "client 1: \"finish_time\" is 3");
  refused(R"("active": [1], "inactive": [2], "finish_time": 1e400)", "not JSON");
  std::string many = "[0";
  for (std::size_t i = 1; i <= fl::max_trace_times; ++i)
    many += "," + std::to_string(2 * i);
  refused(R"("active": )" + many + R"(], "inactive": [1], "finish_time": 1e9)",
          "client 1: \"active\" has 100001 times; at most 100000");
}
