#pragma once
// A checkpoint's checksum proves the file is whole, not that its contents fit the run: a file
// edited and re-summed (or written by another build) could name client 4,000,000,000 as a
// server, an initial round past rounds.initial, a model of one float. `flotilla resume` checks
// every id, round, phase, size and count against the run's configuration and model here,
// before any actor uses them, and refuses the checkpoint (exit 3) naming the field.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/settings.hpp"
#include "fl/checkpoint.hpp"

namespace flotilla::app {

/// Throws checkpoint_error "<field> = <value>: <what is wrong>" for the first field of `cp` that
/// does not fit the run `s`, a model of `model_parameters` weights, and a metrics.jsonl of
/// `metrics_file_size` bytes (0 when there is none).
void check_checkpoint(const fl::checkpoint& cp, const config::settings& s, std::size_t model_parameters,
                      std::uintmax_t metrics_file_size);

/// read_checkpoint, then check_checkpoint against `s`, its model and run_dir/metrics.jsonl:
/// what `flotilla resume` uses. The error names the file, the field and what to do.
fl::checkpoint read_checked_checkpoint(const std::string& run_dir, const std::string& run_id,
                                       const config::settings& s, std::size_t model_parameters);

} // namespace flotilla::app
