#pragma once
// The on-disk form of a checkpoint: one file, checkpoint/checkpoint.bin in the run directory,
//   "FLOTILLA-CHECKPOINT\n" | u32 version | u64 n | n bytes of JSON (every scalar and list) |
//   u32 blobs | per blob: u32 name length, name, u64 floats, the floats (little-endian) |
//   32 bytes of SHA-256 over everything before them,
// written atomically (temporary file, fsync, rename), so a kill at any instant leaves the
// previous checkpoint whole. checkpoint/progress.json says which round it holds, for people
// and scripts.
#include <stdexcept>
#include <string>

#include "fl/checkpoint.hpp"

namespace flotilla::app {

/// A checkpoint that cannot be used: missing, damaged, of another version or of another run.
class checkpoint_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The format version this build writes. Version 2 added `lost_early` (clients lost before
/// clustering); an older build would read a version 2 file without it and silently resume a
/// different run, so the number changed. This build still reads version 1 files (from
/// `oldest_checkpoint_version` on): their `lost_early` is taken as empty, and a client lost to
/// an injected crash is lost again when the resume applies the run's faults once more. Version 3
/// added the asynchronous steps' fits in flight (`async`); versions 1 and 2 have none. Version 4
/// may write `samples_of` sparsely (a large fleet: its size and the clients that trained); an
/// older build would call such a file damaged instead of naming the version.
constexpr std::uint32_t checkpoint_version = 4;
/// The oldest format version this build reads.
constexpr std::uint32_t oldest_checkpoint_version = 1;

/// Writes `cp` for the run whose configuration fingerprint is `run_id` into run_dir/checkpoint/.
/// Throws output_error when it cannot be written.
void write_checkpoint(const std::string& run_dir, const std::string& run_id, const fl::checkpoint& cp);

/// Reads run_dir/checkpoint/checkpoint.bin; throws checkpoint_error saying what is wrong when
/// it is missing, damaged (checksum), of a version this build does not read, or belongs to
/// another run (run_id). `clients`, when not 0, is the run's registered clients: a sparse
/// samples_of claiming another number is refused before anything is allocated for it.
fl::checkpoint read_checkpoint(const std::string& run_dir, const std::string& run_id, std::uint64_t clients = 0);

} // namespace flotilla::app
