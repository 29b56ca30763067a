#pragma once
// The process's exit codes, defined once (README "Exit codes"). Which error class gets which
// code is decided in runtime::exit_status_of (the classes below app) and app::exit_status_of.

namespace flotilla::exit_code {

inline constexpr int ok = 0;
inline constexpr int other = 1;       ///< anything else: an internal error, out of memory
inline constexpr int config = 2;      ///< configuration, command line, TLS files, a busy run directory
inline constexpr int data = 3;        ///< a missing or corrupt data, checkpoint or report input file
inline constexpr int model = 4;       ///< training diverged everywhere, a model file that does not fit
inline constexpr int output = 5;      ///< a result file could not be written
inline constexpr int interrupted = 130;

} // namespace flotilla::exit_code
