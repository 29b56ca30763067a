#pragma once
// Heterogeneous devices (clock=virtual): each client's compute speed, link bandwidth and the
// background load the seed's server selection reads, drawn from seeded distributions or read
// from a file (which may also give a client's availability trace). A client's device is a pure
// function of (seed, client id), so every process of a run (threads, nodes, a resume) sees the
// same fleet without being sent it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fl/availability.hpp"

namespace flotilla::fl {

struct device {
  double ms_per_sample = 0; ///< compute: milliseconds per training sample (FedScale's "computation")
  double kbps = 0;          ///< link bandwidth, kilobits per second (FedScale's "communication")
  double cpu = 0;           ///< background CPU load, percent (what selection.policy=resources reads)
  double mem = 0;           ///< memory in use by others, percent
  availability_trace trace; ///< when it is online (devices.file only); empty: devices.online_s/offline_s
};

/// devices.*: medians and spreads of the drawn fleet.
struct device_options {
  std::string file;              ///< a JSON device list (one entry per client); empty: drawn
  std::string speed = "lognormal"; ///< lognormal | pareto: the distribution of ms_per_sample
  double ms_per_sample = 5;      ///< the median device's compute time per sample
  double speed_sigma = 0;        ///< lognormal sigma of the compute time (0: every device alike)
  double pareto_alpha = 2;       ///< pareto: shape; ms_per_sample is the scale (the fastest device)
  double kbps = 20000;           ///< the median link (20 Mbit/s)
  double bandwidth_sigma = 0;    ///< lognormal sigma of the bandwidth
  double online_s = 0;           ///< mean online period, simulated seconds (0: always online; fl/availability)
  double offline_s = 0;          ///< mean offline period
};

/// Client `client`'s drawn device: its own seeded stream, so one device is drawn alone.
device draw_device(const device_options& o, std::uint64_t seed, std::uint32_t client);

/// The fleet of `clients` devices: drawn, or `o.file` read (read_devices).
std::vector<device> make_devices(const device_options& o, std::uint64_t seed, std::uint32_t clients);

/// The most times an entry's "active" or "inactive" list may hold (bounds what a file costs).
inline constexpr std::size_t max_trace_times = 100000;

/// Devices from JSON text: a list with one object per client id, or an object keyed by client
/// id ("0", "1", ...), each {"ms_per_sample": ms, "kbps": kbps[, "cpu": %, "mem": %][,
/// "active": [s, ...], "inactive": [s, ...], "finish_time": s]} (scripts/fedscale_devices.py
/// writes it from FedScale's device-capacity and behaviour-trace files). Every client below
/// `clients` needs an entry; values must be finite and positive (cpu, mem in 0..100). The three
/// trace keys go together (make_trace checks them; at most max_trace_times times a list).
/// Throws std::invalid_argument naming the entry and the key.
std::vector<device> parse_devices(const std::string& json_text, std::uint32_t clients);

/// parse_devices of a file of at most 256 MiB. Throws std::invalid_argument naming the file.
std::vector<device> read_devices(const std::string& path, std::uint32_t clients);

} // namespace flotilla::fl
