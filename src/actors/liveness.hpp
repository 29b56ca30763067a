#pragma once
// A server's liveness, checked on its own (issue 16): a promoted client that stops answering (a
// hung actor in a live process, whose node's heartbeats still arrive) is found within two
// intervals, not only when its round's deadline passes (minutes with the defaults).
#include <caf/all.hpp>

#include <string>

#include "actors/protocol.hpp"

namespace flotilla::actors {

/// Unanswered pings in a row that make a server hung.
constexpr int liveness_misses = 3;

/// Asks `target` for a ping every `interval_s` seconds; liveness_misses pings in a row not
/// answered within `interval_s` each end the probe with errc::round_failed naming the wait, a
/// target that goes down ends it with that error. Whoever spawned it monitors it, and sends it an exit when the
/// target's work is done; the probe also ends when `owner` does (nothing would stop it then).
caf::behavior liveness_probe(caf::event_based_actor* self, client_handle target, double interval_s, caf::actor owner);

/// The deadline of one cluster round at its server, from what the server does in it: the fit
/// fan-out and the evaluation fan-out (each `timeout_s`), and the transfer of each
/// participant's update from another process (one transfer at a time; each window of chunk
/// requests waits at most `chunk_timeout_s`), plus 5 s for the messages between them. With
/// the liveness probe this is only a backstop: a server that is alive answers within its steps'
/// deadlines, one that hangs is found by the probe. `secure_steps`: fan-outs of secure
/// aggregation, each `timeout_s` too (its four protocol steps; FedBuff's commit makes five).
double cluster_round_deadline_s(double timeout_s, std::size_t participants, std::size_t model_floats,
                                std::size_t chunk_floats, std::size_t window, double chunk_timeout_s,
                                std::size_t secure_steps = 0);

} // namespace flotilla::actors
