#include "fl/devices.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <stdexcept>

#include "common/small_file.hpp"
#include "fl/seeds.hpp"

namespace flotilla::fl {

namespace {

// A counter-based stream: value i of (seed, client) is a hash, so no state is carried and any
// device can be drawn alone, the same on every machine.
class device_stream {
public:
  device_stream(std::uint64_t seed, std::uint32_t client)
      : base_(splitmix64(splitmix64(seed ^ 0xde71ce0000000000ull) + client)) {}
  double uniform() { return open_unit(splitmix64(base_ + counter_++)); }
  double normal() { // Box-Muller
    auto u1 = uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

private:
  std::uint64_t base_;
  std::uint64_t counter_ = 0;
};

double positive(const nlohmann::json& entry, const char* key, const std::string& where, bool required, double fallback,
                double max) {
  auto it = entry.find(key);
  if (it == entry.end()) {
    if (required)
      throw std::invalid_argument(where + ": no \"" + key + "\"");
    return fallback;
  }
  if (!it->is_number())
    throw std::invalid_argument(where + ": \"" + key + "\" is " + std::string(it->type_name()) + ", not a number");
  double v = it->get<double>();
  if (!std::isfinite(v) || v < 0 || (required && v <= 0) || v > max)
    throw std::invalid_argument(where + ": \"" + key + "\" is " + it->dump() + "; it must be " +
                                (required ? "above 0" : "at least 0") + " and at most " + nlohmann::json(max).dump());
  return v;
}

std::vector<double> times(const nlohmann::json& entry, const char* key, const std::string& where) {
  const auto& v = entry.at(key);
  if (!v.is_array())
    throw std::invalid_argument(where + ": \"" + key + "\" is " + std::string(v.type_name()) + ", not a list of times");
  if (v.size() > max_trace_times)
    throw std::invalid_argument(where + ": \"" + key + "\" has " + std::to_string(v.size()) + " times; at most " +
                                std::to_string(max_trace_times));
  std::vector<double> out;
  out.reserve(v.size());
  for (const auto& x : v) {
    if (!x.is_number())
      throw std::invalid_argument(where + ": \"" + key + "\"[" + std::to_string(out.size()) + "] is " +
                                  std::string(x.type_name()) + ", not a number");
    out.push_back(x.get<double>());
  }
  return out;
}

// A FedScale behaviour trace in the entry, or none (the entry has none of its keys).
availability_trace trace_of(const nlohmann::json& entry, const std::string& where) {
  const char* keys[] = {"active", "inactive", "finish_time"};
  int present = 0;
  for (auto k : keys)
    present += entry.contains(k) ? 1 : 0;
  if (present == 0)
    return {};
  for (auto k : keys)
    if (!entry.contains(k))
      throw std::invalid_argument(where + ": no \"" + k + "\" (a trace has \"active\", \"inactive\" and \"finish_time\")");
  const auto& finish = entry.at("finish_time");
  if (!finish.is_number())
    throw std::invalid_argument(where + ": \"finish_time\" is " + std::string(finish.type_name()) + ", not a number");
  auto active = times(entry, "active", where), inactive = times(entry, "inactive", where);
  try {
    return make_trace(active, inactive, finish.get<double>());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(where + ": " + e.what());
  }
}

} // namespace

device draw_device(const device_options& o, std::uint64_t seed, std::uint32_t client) {
  device_stream s(seed, client);
  device d;
  if (o.speed == "pareto") // the scale is the fastest device; a heavy tail of slow ones
    d.ms_per_sample = o.ms_per_sample / std::pow(s.uniform(), 1.0 / o.pareto_alpha);
  else
    d.ms_per_sample = o.ms_per_sample * std::exp(o.speed_sigma * s.normal());
  d.kbps = o.kbps * std::exp(o.bandwidth_sigma * s.normal());
  // Background load: what the seed's selection reads, independent of speed (a busy phone may
  // be a fast one).
  d.cpu = 100 * s.uniform();
  d.mem = 100 * s.uniform();
  return d;
}

std::vector<device> make_devices(const device_options& o, std::uint64_t seed, std::uint32_t clients) {
  if (!o.file.empty())
    return read_devices(o.file, clients);
  std::vector<device> out;
  out.reserve(clients);
  for (std::uint32_t c = 0; c < clients; ++c)
    out.push_back(draw_device(o, seed, c));
  return out;
}

std::vector<device> parse_devices(const std::string& json_text, std::uint32_t clients) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("it is not JSON: ") + e.what());
  }
  if (!doc.is_array() && !doc.is_object())
    throw std::invalid_argument("it must be a list of devices or an object keyed by client id");
  std::vector<device> out(clients);
  for (std::uint32_t c = 0; c < clients; ++c) {
    const nlohmann::json* entry = nullptr;
    if (doc.is_array() && c < doc.size())
      entry = &doc[c];
    else if (doc.is_object() && doc.contains(std::to_string(c)))
      entry = &doc[std::to_string(c)];
    auto where = "client " + std::to_string(c);
    if (!entry)
      throw std::invalid_argument(where + " has no entry (" + std::to_string(doc.size()) + " entries for " +
                                  std::to_string(clients) + " clients)");
    if (!entry->is_object())
      throw std::invalid_argument(where + ": the entry is " + std::string(entry->type_name()) + ", not an object");
    out[c].ms_per_sample = positive(*entry, "ms_per_sample", where, true, 0, 1e9);
    out[c].kbps = positive(*entry, "kbps", where, true, 0, 1e12);
    out[c].cpu = positive(*entry, "cpu", where, false, 0, 100);
    out[c].mem = positive(*entry, "mem", where, false, 0, 100);
    out[c].trace = trace_of(*entry, where);
  }
  return out;
}

std::vector<device> read_devices(const std::string& path, std::uint32_t clients) {
  auto file = read_small_file(path, std::uintmax_t{256} << 20);
  if (!file.ok())
    throw std::invalid_argument("devices.file " + path + " " + file.problem);
  try {
    return parse_devices(file.bytes, clients);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("devices.file " + path + ": " + e.what());
  }
}

} // namespace flotilla::fl
