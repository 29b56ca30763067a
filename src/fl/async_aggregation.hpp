#pragma once
// Buffered and asynchronous aggregation under the virtual clock (strategy.mode): FedBuff
// (Nguyen et al., AISTATS 2022) and FedAsync (Xie et al., 2019), decided on plain values.
//
// Up to `concurrency` clients train at once, each on the model version it was sent. A fit's
// completion time is known when it is dispatched (fl/device_time), so fits are taken in
// (simulated completion, client id) order whatever order the real training ends in: the run is
// deterministic while the training itself runs in parallel. FedBuff buffers `buffer` updates,
// each weighted by its staleness (server versions since it was sent), then takes one server step;
// FedAsync mixes every update into the model at once.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace flotilla::fl {

struct async_options {
  std::string mode = "sync";           ///< sync | buffered (FedBuff) | async (FedAsync)
  std::uint32_t concurrency = 10;      ///< clients training at once
  std::uint32_t buffer = 10;           ///< FedBuff's K: updates per server step
  std::string staleness = "polynomial"; ///< constant | polynomial | hinge
  double exponent = 0.5;               ///< polynomial: 1 / (1 + s)^exponent (FedBuff's 1/sqrt(1+s))
  std::uint32_t hinge_b = 4;           ///< hinge: weight 1 up to b, then 1 / (a (s - b) + 1)
  double hinge_a = 10;
  std::uint32_t max_staleness = 0;     ///< updates staler than this are dropped (0: none)
  double alpha = 0.6;                  ///< FedAsync's mixing weight
  bool asynchronous() const { return mode != "sync"; }
};

/// The weight of an update `staleness` server versions old.
double staleness_weight(const async_options& o, std::uint32_t staleness);

/// An update's weight in FedBuff's sample-weighted sum: its samples times its staleness weight,
/// in integer units of 1/1024 sample (the fixed-point sums take integer weights), at least 1.
std::uint64_t buffered_weight(std::uint64_t samples, double staleness_weight);

/// The fits in flight, in the order they complete.
class in_flight {
public:
  struct fit {
    std::uint32_t client = 0;
    std::uint64_t version = 0; ///< the model version it was sent
    double done = 0;           ///< simulated completion
  };
  void add(const fit& f);
  /// The fit that completes first ((done, client) order).
  std::optional<fit> earliest() const;
  void remove(std::uint32_t client);
  bool busy(std::uint32_t client) const { return by_client_.count(client) > 0; }
  /// The fit of `client` (which must be in flight).
  fit of(std::uint32_t client) const { return by_done_.at({by_client_.at(client), client}); }
  std::size_t size() const { return by_client_.size(); }
  /// The oldest version any fit in flight was sent (none in flight: nullopt).
  std::optional<std::uint64_t> oldest_version() const;
  /// Every fit in flight, in completion order (a checkpoint's).
  std::vector<fit> all() const;

private:
  std::map<std::pair<double, std::uint32_t>, fit> by_done_;
  std::map<std::uint32_t, double> by_client_;
};

/// Where an aggregation point's asynchronous steps stand between two steps, as plain values: the
/// fits in flight and the models they were sent. A checkpoint keeps it (a cluster's in the
/// registry); a resumed or newly elected server continues from it by sending those fits again.
struct async_state {
  std::uint64_t draws = 0; ///< client draws so far (pick_client)
  std::vector<in_flight::fit> flights;
  std::map<std::uint64_t, std::shared_ptr<const std::vector<float>>> versions;
};

/// Why `s` cannot be the position after step `step` of a run whose models have `parameters`
/// weights and at most `concurrency` fits in flight, clients below `clients` (empty: it can).
/// Every fit's version is held, at most `step`; no client twice; models finite and of the size.
std::string check_async_state(const async_state& s, std::uint64_t step, std::uint32_t concurrency,
                              std::size_t parameters, std::uint32_t clients);

/// The next client to dispatch among `candidates` (sorted ids; none: nullopt), drawn from
/// (seed, version, draw): the same on every run.
std::optional<std::uint32_t> pick_client(const std::vector<std::uint32_t>& candidates, std::uint64_t seed,
                                         std::uint64_t version, std::uint64_t draw);

} // namespace flotilla::fl
