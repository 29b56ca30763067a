#pragma once
// Models larger than one message, between nodes. A weight_blob above the chunk size does not
// travel inside its message: the sending process shares it with its blob server and the
// message carries a reference (blob_ref). The receiver pulls the floats in chunks, at most
// `window` chunk requests outstanding, so neither side nor the guard between them ever holds
// more than window x chunk bytes of a transfer in flight, and every message stays far below
// the guard's 64 MiB cap. Pulling is the flow control: a receiver that is slow, busy or
// folding asks for less. In one process nothing of this happens: messages are not
// serialized, blobs are shared pointers.
//
// Sender: the serializer (inspect of weight_blob) calls share_for_wire; the entry lives until
// the receiver sends unshare or it stays untouched for `idle_ttl_s` (a receiver that died).
// Receiver: fetch_blob / fetch_chunks below, from any event-based actor.
#include <caf/all.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "actors/protocol.hpp"

namespace flotilla::actors {

/// How blobs cross processes; the same on every process of a run (runtime.chunk_kib).
struct transfer_settings {
  std::size_t chunk_floats = std::size_t{4} << 20; ///< floats per chunk (16 MiB); also the inline limit
  std::size_t window = 4;                          ///< chunk requests outstanding per transfer
  double chunk_timeout_s = 60;                     ///< one chunk request's deadline
  double idle_ttl_s = 1800;                        ///< a shared blob nobody touched for this long is dropped
  /// Updates of more floats than this are folded chunk by chunk at an aggregation point (never
  /// held whole); smaller ones are fetched whole and accepted like local ones, so a sender that
  /// vanishes mid-transfer costs only its own update. 256 MiB: the bound on an aggregation
  /// point's memory (2 x model + 256 MiB) holds either way.
  std::size_t stream_above_floats = std::size_t{64} << 20;
};

/// Process-wide settings (set before any message leaves; runtime reads them from the config).
void set_transfer_settings(const transfer_settings& s);
transfer_settings current_transfer_settings();

/// Starts the blob server of `sys` (idempotent). Without one, every blob travels inline.
void start_blob_server(caf::actor_system& sys);
/// Stops it and forgets every blob shared through it.
void stop_blob_server(caf::actor_system& sys);
/// Starts the blob server of a system for the life of this object: its handle must not outlive
/// the system (the registry is process-wide), so a process stops it on every way out.
class blob_server_scope {
public:
  explicit blob_server_scope(caf::actor_system& sys) : sys_(sys) { start_blob_server(sys); }
  ~blob_server_scope() { stop_blob_server(sys_); }
  blob_server_scope(const blob_server_scope&) = delete;
  blob_server_scope& operator=(const blob_server_scope&) = delete;

private:
  caf::actor_system& sys_;
};

/// Blobs currently shared with receivers (tests, diagnostics).
std::size_t shared_blob_count();

/// What this process's blob servers did since start (a node logs it at the end of each run).
struct transfer_counters {
  std::uint64_t blobs_shared = 0;  ///< blobs sent as references
  std::uint64_t chunks_served = 0; ///< chunk requests answered
  std::uint64_t bytes_served = 0;  ///< floats x 4 in those answers
};
transfer_counters transfer_totals();

/// Receives `n` floats starting at `offset` of a transfer; returns why they are refused (empty:
/// accepted). Called on the fetching actor's thread, once per chunk, in any order.
using chunk_sink = std::function<std::string(std::size_t offset, const float* values, std::size_t n)>;

/// Pulls every chunk of `ref` into `sink`, window chunks at a time, then tells the sender it is
/// done. `done` gets an empty string on success, else what went wrong (the transfer stops at
/// the first refused chunk or failed request; the sink saw exactly the chunks it accepted).
void fetch_chunks(caf::event_based_actor* self, const blob_ref& ref, chunk_sink sink,
                  std::function<void(std::string error)> done);

/// Pulls chunks [offset, offset + n) of `ref` again (to withdraw a partial update), same contract.
void fetch_range(caf::event_based_actor* self, const blob_ref& ref, std::size_t offset, std::size_t n,
                 chunk_sink sink, std::function<void(std::string error)> done);

/// Makes `blob` local: at once when it is, else by fetching it whole. `expected_floats` (0: any)
/// is checked before anything is allocated. `done(error, blob)`.
void fetch_blob(caf::event_based_actor* self, weight_blob blob, std::size_t expected_floats,
                std::function<void(std::string error, weight_blob)> done);

/// fetch_blob for each blob in turn (one transfer at a time).
void fetch_blobs(caf::event_based_actor* self, std::vector<weight_blob> blobs, std::size_t expected_floats,
                 std::function<void(std::string error, std::vector<weight_blob>)> done);

/// Tells the sender of `ref` that its blob is no longer needed (no answer).
void release_blob(caf::event_based_actor* self, const blob_ref& ref);

} // namespace flotilla::actors
