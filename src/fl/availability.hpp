#pragma once
// When a device is online (clock=virtual). Two sources:
// - drawn (devices.online_s / devices.offline_s): each client alternates online and offline
//   periods of exponential length (means online_s and offline_s), starting inside an online
//   period. The periods are a pure function of (seed, client), so every process sees the same
//   fleet come and go.
// - a trace (a devices.file entry's "active", "inactive", "finish_time": FedScale's
//   client_behave_trace): online from active[i] until inactive[i], repeating every finish_time.
// An offline client cannot be sampled; one that goes offline before its fit would finish drops
// out of the round.
#include <cstdint>
#include <vector>

namespace flotilla::fl {

struct availability_options {
  double online_s = 0;  ///< mean online period in simulated seconds (0: always online)
  double offline_s = 0; ///< mean offline period
  bool always() const { return online_s <= 0 || offline_s <= 0; }
};

/// The period of a client that holds simulated time `t` (>= 0): whether it is online and when it
/// ends (infinity when it never does).
struct period {
  bool online = true;
  double end = 0;
};

/// Drawn periods of client `client`. Walks the periods from the start: stateless, so any actor
/// on any thread may ask.
period period_at(const availability_options& o, std::uint64_t seed, std::uint32_t client, double t);

/// A client's availability trace, normalized: online on [start[i], end[i]) of every cycle of
/// `finish` seconds (cycle k covers [k * finish, (k + 1) * finish)). Intervals are disjoint,
/// sorted and do not touch (start[i] < end[i] < start[i + 1]); end.back() <= finish.
struct availability_trace {
  std::vector<double> start, end;
  double finish = 0; ///< 0: no trace
  bool empty() const { return finish <= 0; }
};

/// The trace of FedScale's lists, checked: times finite and >= 0; active[0] < inactive[0] <=
/// active[1] < inactive[1] ...; `inactive` as long as `active` or one shorter (the last interval
/// then lasts until finish_time); finish_time after every active time and at least every inactive
/// one. Intervals that touch merge (the client stays online). Throws std::invalid_argument naming
/// the key ("active", "inactive", "finish_time") and the index.
availability_trace make_trace(const std::vector<double>& active, const std::vector<double>& inactive,
                              double finish_time);

/// The trace's period holding `t` (>= 0): a binary search in the cycle of t. A cycle that starts
/// online (start[0] == 0) after one that ends online (end.back() == finish) continues the same
/// period: it ends at end[0] of the next cycle, or never when that interval is the whole cycle.
period period_at(const availability_trace& trace, double t);

/// Whether the client can be sampled at `t`, and whether it stays online until `until`.
bool online_at(const availability_options& o, std::uint64_t seed, std::uint32_t client, double t);
bool online_throughout(const availability_options& o, std::uint64_t seed, std::uint32_t client, double t,
                       double until);

} // namespace flotilla::fl
