#pragma once
// Device time (clock=virtual): how long a fit and an aggregation take on a device, in simulated
// seconds. Training really happens; only its duration is computed, from the device and the work.
//
// A fit is download + compute + upload. Compute follows FedScale (Lai et al., ICML 2022):
// 3 x batch x local steps x ms_per_sample / 1000, the 3 being a backward pass at twice a
// forward's cost. Transfers are the model's bytes over the client's link.
//
// A promoted cluster server is a device too: its link carries the model to every member asked and
// every update back, and it aggregates at its own speed. Aggregating one update is about 2
// operations per weight, a training sample about 6 (forward 2, backward 4), so one update costs a
// third of a sample's time.
#include <cstdint>
#include <vector>

#include "fl/availability.hpp"
#include "fl/devices.hpp"

namespace flotilla::fl {

struct fit_time {
  double download = 0, compute = 0, upload = 0;
  double total() const { return download + compute + upload; }
};

/// A fit of `epochs` local epochs over `samples` samples in batches of `batch` (the last batch
/// may be short: local steps = epochs x ceil(samples / batch)), moving `model_bytes` each way.
fit_time fit_seconds(const device& d, std::uint64_t samples, std::uint32_t batch, std::uint32_t epochs,
                     std::uint64_t model_bytes);

/// The seconds of `bytes` over a link of `kbps` kilobits per second.
double transfer_seconds(std::uint64_t bytes, double kbps);

/// What a round costs its aggregation point besides its members' fits.
struct server_time {
  double send = 0;      ///< the model to each member asked, over the server's link
  double receive = 0;   ///< every update, over the server's link
  double aggregate = 0; ///< folding the updates at the server's speed
};

/// A promoted server (`d`) sending to `asked` members and folding `updates` updates of
/// `model_bytes`. The coordinator is a data-centre machine: its costs are not modelled (zero).
server_time server_seconds(const device& d, std::uint32_t asked, std::uint32_t updates, std::uint64_t model_bytes);

/// The availability period of client `client` (device `d`) holding `t`: its devices.file trace
/// when it has one, else the periods drawn from devices.online_s / offline_s (always online when
/// those are 0).
period client_period(const device& d, const availability_options& o, std::uint64_t seed, std::uint32_t client,
                     double t);

/// A run's fleet on the simulated clock: every client's device and the work of its fit. Built once
/// per process from the configuration (the devices are a function of the seed), shared read-only.
class device_clock {
public:
  device_clock(std::vector<device> devices, std::vector<std::uint64_t> train_samples, std::uint32_t batch,
               std::uint64_t model_bytes, availability_options availability = {}, std::uint64_t seed = 0);
  const device& of(std::uint32_t client) const { return devices_.at(client); }
  std::size_t size() const { return devices_.size(); }
  /// Client `client`'s fit of `epochs` local epochs over its training split.
  double fit_seconds(std::uint32_t client, std::uint32_t epochs) const;
  /// The model's bytes over client `client`'s link: what a newly promoted server downloads.
  double model_seconds(std::uint32_t client) const;
  /// A round's cost at promoted server `server` (server_seconds).
  server_time server_seconds(std::uint32_t server, std::uint32_t asked, std::uint32_t updates) const;
  /// Whether the client is online at `t` (can be sampled), and the period it is in (client_period).
  bool online(std::uint32_t client, double t) const;
  period period_of(std::uint32_t client, double t) const;

private:
  availability_options availability_;
  std::uint64_t seed_;
  std::vector<device> devices_;
  std::vector<std::uint64_t> samples_;
  std::uint32_t batch_;
  std::uint64_t model_bytes_;
};

/// A synchronous round under the virtual clock, decided on plain values. Each participant's
/// completion is known when it is dispatched (its fit time, plus an injected `slow` delay); the
/// round waits for every one of them up to its deadline. A participant that never answers (a
/// hang) completes at infinity; one that answered with an error (a crash the server saw at once,
/// a refused update) is not in the list: nobody waits for it.
struct round_timing {
  double start = 0;                  ///< simulated seconds at dispatch
  double deadline_s = 0;             ///< rounds.timeout_s, in simulated time (0: none)
  std::vector<double> completion;    ///< per participant, simulated seconds (absolute)
  server_time server;                ///< the aggregation point's own costs
};

/// Whether a participant finishing at `completion` makes the round's deadline.
bool makes_deadline(const round_timing& t, double completion);

/// When the round ends: the server has sent the model, then (both at once) the last update that
/// makes the deadline arrives and its link has received every update; then it aggregates. A
/// participant that misses the deadline (or fails) holds the round until the deadline.
double round_end(const round_timing& t);

} // namespace flotilla::fl
