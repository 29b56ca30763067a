#pragma once
// Buffered and asynchronous server steps (strategy.mode = buffered | async), the same code at
// every aggregation point: the coordinator's initial phase and each promoted cluster server.
// Up to `concurrency` members train at once, each on the model version it was sent. Under
// clock=virtual a fit's completion is known when it is dispatched, and fits are taken in
// (simulated completion, client id) order whatever order the real training ends in: the steps
// are deterministic while the training runs in parallel. Under clock=wall they are taken in the
// order their results arrive. FedBuff steps after K updates through the aggregation point's
// strategy on staleness-weighted deltas; FedAsync mixes each update in at once
// (fl/async_aggregation.hpp decides on plain values).
//
// Between two steps the engine is at a position (the version, the clock, the fits in flight and
// the models they were sent): a checkpoint keeps it, and a resume or a new server after an
// election continues from it by sending those fits again. A fit's result is a function of the
// client, the model it was sent and the seed, so the steps go on exactly as they would have.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actors/round_engine.hpp"
#include "actors/secure_round.hpp"
#include "fl/async_aggregation.hpp"
#include "fl/strategy.hpp"

namespace flotilla::actors {

/// Where the steps stand between two of them.
struct async_position {
  std::uint64_t version = 0; ///< server steps taken
  double now = 0;            ///< the aggregation point's clock (simulated, or the run's wall seconds)
  fl::async_state state;     ///< client draws, fits in flight and the models they were sent
};

/// A position's fits in flight on the wire, and back (the wire's blobs fetched first).
async_wire to_wire(const fl::async_state& s, std::uint64_t layout);
fl::async_state from_wire(const async_wire& w);

/// What the steps need besides the strategy, fixed for their lifetime.
struct async_setup {
  fl::round_record header;                ///< phase, cluster, server, term: copied into each step's record
  fl::async_options options;
  std::uint64_t seed = 0;                 ///< the client draws' stream
  std::uint32_t epochs = 1;
  double timeout_s = 0;                   ///< a fit's wall-clock deadline
  std::uint64_t parameters = 0;           ///< the model's weights (an update of another size is refused)
  std::string layer_phase = "initial";    ///< fl::layer_step's phase of a fit (FedBN)
  std::optional<virtual_round> sim;       ///< clock=virtual (its `start` is unused); null: the wall clock
  std::function<double()> wall_now;       ///< clock=wall: the run's seconds now
  std::function<void(const fit_result&)> on_update; ///< each update taken into a step
  /// privacy.secure_aggregation (strategy.mode=buffered): each member (all but secure.aggregator)
  /// trains on a registered version and holds its update; a full buffer with at least
  /// secure.min_members distinct members is committed and summed under masks in a session of its
  /// own (secure_member.hpp, held_fit). The aggregator's own updates are added in the clear.
  secure_setup secure;
  /// The coordinator's registration of a version's model (the coordinator's own steps sign it
  /// themselves); null: those given to registered().
  std::function<std::vector<std::uint8_t>(std::uint64_t version, const std::vector<float>& model)> register_version;
};

/// One server step's outcome: its record (not evaluated), or why it could not be taken.
struct async_step {
  fl::round_record record;
  std::string error;
  bool repeats = false; ///< the strategy cannot aggregate such a step: another server would fail the same
};

class async_steps : public std::enable_shared_from_this<async_steps> {
public:
  /// Steps from `model` at `from` (a fresh start: version 0, no fits in flight). The fits in
  /// flight at `from` are sent again by the first `next`.
  static std::shared_ptr<async_steps> create(down_watch& watch, fl::strategy& strategy, async_setup setup,
                                             weight_blob model, async_position from);

  /// Takes the next server step among `members` (sorted by id; who may be sent a fit from now
  /// on) and calls `done` once. `durable` is the last checkpoint's fl::layer_step.
  void next(std::vector<peer> members, std::uint64_t durable, std::function<void(async_step)> done);

  const weight_blob& model() const { return model_; }
  std::uint64_t version() const { return pos_.version; }
  double now() const { return pos_.now; }
  /// The position after the last step (for a checkpoint or the next server).
  async_position position() const;
  /// The oldest version a fit in flight was sent (none: nullopt).
  std::optional<std::uint64_t> oldest_in_flight() const { return flights_.oldest_version(); }
  /// Moves the clock (an aggregation point's own costs between steps).
  void advance(double seconds) { pos_.now += seconds; }
  /// The fits still in flight are abandoned: their results, when they come, are dropped.
  void stop();
  /// A cluster server's steps under secure aggregation: the coordinator's registration of a
  /// version's model, sent with the fits at that version.
  void registered(std::uint64_t version, std::vector<std::uint8_t> signature);
  /// Fault injection (kind inconsistent_model): the next held fit goes out changed by `how`,
  /// under its version's registration, as a server mounting the model-inconsistency attack would.
  void tamper_next(std::function<void(fit_ins&)> how) { tamper_ = std::move(how); }

private:
  async_steps(down_watch& watch, fl::strategy& strategy, async_setup setup, weight_blob model, async_position from);
  void send(std::uint32_t id, std::uint64_t version);
  void fill();
  std::optional<double> next_online() const;
  void pump();
  /// `masked`: the held entries' secure sum, moved from (null: every entry is here).
  std::string buffered_step(std::vector<std::int64_t>* masked = nullptr);
  bool held(std::uint32_t id) const;
  bool ready() const;
  std::size_t held_members() const;
  void secure_step();
  void secure_summed(commit_outcome committed, secure_outcome summed);
  void step_on_buffer();
  void take_buffer();
  bool short_step();
  std::string stalled() const;
  void skip_step(std::string why);
  void finish(std::vector<std::uint32_t> staleness, std::uint64_t samples, double loss, std::string not_aggregated = {});

  down_watch& watch_;
  fl::strategy& strategy_;
  async_setup setup_;
  weight_blob model_;
  async_position pos_;
  fl::in_flight flights_;
  std::map<std::uint64_t, weight_blob> versions_;
  std::vector<peer> members_;
  std::uint64_t durable_ = 0;
  std::vector<fl::in_flight::fit> resend_; ///< fits of `from` to send again at the first step
  std::map<std::uint32_t, fit_result> arrived_;
  std::map<std::uint32_t, std::string> failed_;
  std::deque<std::uint32_t> arrivals_; ///< clock=wall: results (or failures) in the order they came
  struct buffered {
    std::uint32_t client;
    std::uint64_t samples;
    double loss;
    std::uint32_t staleness;
    std::vector<float> delta; ///< the trained weights less the version it was sent (empty: held)
    std::uint64_t fit_session = 0, ticket = 0; ///< a fit the member holds (secure aggregation)
  };
  std::uint64_t weight_of(const buffered& b) const;
  std::vector<buffered> buffer_;
  std::function<void(async_step)> done_; ///< set while a step is wanted
  std::map<std::uint32_t, std::uint64_t> tickets_;            ///< secure: each held fit in flight
  std::map<std::uint64_t, std::vector<std::uint8_t>> registrations_; ///< secure: by version
  std::uint64_t next_ticket_ = 0;
  std::function<void(fit_ins&)> tamper_;
  /// Members whose fit at the current version came back (an update or a failure): not sent it
  /// again (the same member, version and seed train to the same update, which would count
  /// twice; a lost member would fail again). Empty after a step.
  std::set<std::uint32_t> tried_;
  std::string unregistered_; ///< a fit could not be sent: its version has no registration
  bool summing_ = false;      ///< secure: a buffer is being summed under masks
  secure_outcome secure_stats_; ///< the last secure sum's counts, for its step's record
  // Since the last step: its record's counts.
  std::uint32_t asked_ = 0, dropped_stale_ = 0;
  double fit_seconds_ = 0; ///< the taken updates' own training seconds
  std::vector<std::uint32_t> failed_ids_;
  std::vector<std::string> failure_reasons_;
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
  bool stopped_ = false;
  /// Set while pump runs or fits are being sent: a result that settles at once (a peer already
  /// gone) is then left for the running loop instead of re-entering it.
  bool pumping_ = false;
};

} // namespace flotilla::actors
