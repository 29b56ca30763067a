#include "fl/availability.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

#include "fl/seeds.hpp"

namespace flotilla::fl {

namespace {

std::string number(double v) {
  std::ostringstream s;
  s << std::setprecision(12) << v;
  return s.str();
}

std::string at(const char* key, std::size_t i, double v) {
  return "\"" + std::string(key) + "\"[" + std::to_string(i) + "] = " + number(v);
}

void check_time(const char* key, std::size_t i, double v) {
  if (!std::isfinite(v) || v < 0)
    throw std::invalid_argument(at(key, i, v) + ": a time must be finite and at least 0");
}

} // namespace

period period_at(const availability_options& o, std::uint64_t seed, std::uint32_t client, double t) {
  if (o.always())
    return {true, std::numeric_limits<double>::infinity()};
  auto base = splitmix64(splitmix64(seed ^ 0xa7a11ab1e0000000ull) + client);
  std::uint64_t counter = 0;
  auto draw = [&](double mean) {
    return -mean * std::log(open_unit(splitmix64(base + counter++)));
  };
  // The run starts inside an online period: what is left of it is exponential too (memoryless).
  period p{true, draw(o.online_s)};
  while (t >= p.end) {
    p.online = !p.online;
    p.end += draw(p.online ? o.online_s : o.offline_s);
  }
  return p;
}

availability_trace make_trace(const std::vector<double>& active, const std::vector<double>& inactive,
                              double finish_time) {
  if (active.empty())
    throw std::invalid_argument("\"active\" is empty: a trace needs at least one online interval");
  if (inactive.size() != active.size() && inactive.size() + 1 != active.size())
    throw std::invalid_argument("\"inactive\" has " + std::to_string(inactive.size()) + " times for " +
                                std::to_string(active.size()) + " \"active\" ones; it must have as many or one fewer");
  for (std::size_t i = 0; i < active.size(); ++i) {
    check_time("active", i, active[i]);
    if (i < inactive.size()) {
      check_time("inactive", i, inactive[i]);
      if (!(inactive[i] > active[i]))
        throw std::invalid_argument(at("inactive", i, inactive[i]) + " is not after " + at("active", i, active[i]));
    }
    if (i > 0 && active[i] < inactive[i - 1])
      throw std::invalid_argument(at("active", i, active[i]) + " is before " + at("inactive", i - 1, inactive[i - 1]) +
                                  ": the times must alternate, increasing");
  }
  if (!std::isfinite(finish_time) || !(finish_time > active.back()) ||
      (!inactive.empty() && finish_time < inactive.back())) {
    throw std::invalid_argument("\"finish_time\" is " + number(finish_time) +
                                "; it must be finite, after the last \"active\" time (" + number(active.back()) +
                                ") and at least the last \"inactive\" time");
  }
  availability_trace out;
  out.finish = finish_time;
  for (std::size_t i = 0; i < active.size(); ++i) {
    double end = i < inactive.size() ? inactive[i] : finish_time;
    if (!out.end.empty() && out.end.back() == active[i]) // touching: one online period
      out.end.back() = end;
    else {
      out.start.push_back(active[i]);
      out.end.push_back(end);
    }
  }
  return out;
}

period period_at(const availability_trace& trace, double t) {
  constexpr double never = std::numeric_limits<double>::infinity();
  if (trace.empty())
    return {true, never};
  const auto& s = trace.start;
  const auto& e = trace.end;
  t = std::max(t, 0.0);
  double local = std::fmod(t, trace.finish); // exact
  double cycle = t - local;
  // The last interval starting at or before `local`.
  auto i = static_cast<std::ptrdiff_t>(std::upper_bound(s.begin(), s.end(), local) - s.begin()) - 1;
  period p;
  bool wraps = s.front() == 0 && e.back() == trace.finish; // the last interval runs into the next cycle's first
  if (i >= 0 && local < e[static_cast<std::size_t>(i)]) {
    auto k = static_cast<std::size_t>(i);
    p.online = true;
    if (!wraps || k + 1 < e.size())
      p.end = cycle + e[k];
    else
      p.end = e.size() == 1 ? never : cycle + trace.finish + e.front();
  } else {
    auto next = static_cast<std::size_t>(i + 1);
    p.online = false;
    p.end = next < s.size() ? cycle + s[next] : cycle + trace.finish + s.front();
  }
  // Far from 0 the sum may round onto t: the period must still end after it.
  if (!(p.end > t))
    p.end = std::nextafter(t, never);
  return p;
}

bool online_at(const availability_options& o, std::uint64_t seed, std::uint32_t client, double t) {
  return period_at(o, seed, client, t).online;
}

bool online_throughout(const availability_options& o, std::uint64_t seed, std::uint32_t client, double t,
                       double until) {
  auto p = period_at(o, seed, client, t);
  return p.online && until < p.end;
}

} // namespace flotilla::fl
