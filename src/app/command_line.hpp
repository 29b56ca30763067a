#pragma once
#include <string>
#include <vector>

#include "runtime/node.hpp"

namespace flotilla::app {

/// What the command line asked for.
struct command_line {
  std::string command;               ///< run | resume | config | node | report | help | version
  bool help = false;                 ///< `<command> --help`
  std::string config_file;
  std::vector<std::string> overrides; ///< key=value
  std::vector<std::string> words;     ///< the rest (resume: RUN_DIR; report: its arguments)
  runtime::node_options node;
};

/// Usage of every command, or of one.
std::string usage(const std::string& command = "");

/// Reads argv. Throws config_error (exit 2) for what it cannot understand, with the usage.
command_line parse_command_line(int argc, char** argv);

} // namespace flotilla::app
