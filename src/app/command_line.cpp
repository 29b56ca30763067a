#include "app/command_line.hpp"

#include <algorithm>
#include <cstdlib>

#include "report/report_command.hpp"
#include "config/config.hpp"
#include "config/settings.hpp"

namespace flotilla::app {

namespace {

const char* run_usage =
  "usage: flotilla run [--config FILE] [key=value ...]\n"
  "  Clustered federated learning on real data: initial rounds through the chosen strategy,\n"
  "  clustering of the clients, a server per cluster promoted from its members, cluster rounds,\n"
  "  evaluation. Results go to output.dir/<time>-<name>/ (or output.run_dir): config.json,\n"
  "  metrics.jsonl, metrics.csv, clusters.json, summary.json, report.html, models/.\n"
  "  Keys are those of config/default.json, dotted: clients=16 partition.scheme=rotated.\n";

const char* config_usage =
  "usage: flotilla config [--config FILE] [key=value ...]\n"
  "  Prints the resolved configuration (defaults <- FILE <- overrides) after validating it.\n";

const char* node_usage =
  "usage: flotilla node [--port P] [--bind ADDR] [--tls-cert F --tls-key F --tls-ca F] [--insecure]\n"
  "                     [--join HOST:PORT]\n"
  "                     [data.root=DIR] [data.file=FILE] [model.file=FILE] [runtime.trainers=N]\n"
  "                     [runtime.scheduler_threads=N] [runtime.chunk_kib=N]\n"
  "  Hosts client actors for runs started elsewhere with runtime.nodes=HOST:PORT,... (default\n"
  "  port 4242, bound to 127.0.0.1; 0 picks a free port). Mutual TLS with the three --tls-*\n"
  "  files; plain TCP only on loopback unless --insecure. With --join, the node listens nowhere:\n"
  "  it offers itself to a running coordinator (runtime.listen=PORT), hosts late clients, and ends\n"
  "  with that run.\n";

const char* resume_usage =
  "usage: flotilla resume RUN_DIR [key=value ...]\n"
  "  Continues a run from its last checkpoint (RUN_DIR/checkpoint/). Only keys that do not\n"
  "  change the experiment may be overridden (runtime.*, output.progress).\n";

} // namespace

std::string usage(const std::string& command) {
  if (command == "run")
    return run_usage;
  if (command == "config")
    return config_usage;
  if (command == "node")
    return node_usage;
  if (command == "resume")
    return resume_usage;
  if (command == "report")
    return report::report_usage;
  return std::string("usage: flotilla COMMAND [options]\n\n") + run_usage + "\n" + resume_usage + "\n" + config_usage +
         "\n" + node_usage + "\n" + report::report_usage +
         "\nflotilla help [COMMAND] | flotilla --help | flotilla --version\n"
         "Exit codes: 0 done, 1 other failure, 2 configuration, 3 data, 4 model (e.g. training diverged),\n"
         "5 output (a result file could not be written), 130 interrupted.\n";
}

command_line parse_command_line(int argc, char** argv) {
  command_line cl;
  if (argc < 2)
    throw config::config_error("no command given\n\n" + usage());
  cl.command = argv[1];
  if (cl.command == "--help" || cl.command == "-h" || cl.command == "help") {
    cl.command = "help";
    if (argc > 2)
      cl.words.push_back(argv[2]);
    return cl;
  }
  if (cl.command == "--version" || cl.command == "version") {
    cl.command = "version";
    return cl;
  }
  static const std::vector<std::string> commands{"run", "resume", "config", "node", "report"};
  if (std::find(commands.begin(), commands.end(), cl.command) == commands.end())
    throw config::config_error("unknown command '" + cl.command + "'\n\n" + usage());
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      cl.help = true;
    } else if (cl.command == "report") {
      cl.words.push_back(arg); // report parses its own arguments
    } else if (arg == "--config" || arg == "-c") {
      if (i + 1 >= argc)
        throw config::config_error("--config needs a file name");
      cl.config_file = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      cl.config_file = arg.substr(9);
    } else if (cl.command == "node" && arg == "--insecure") {
      cl.node.insecure = true;
    } else if (cl.command == "node" && arg == "--join") {
      if (i + 1 >= argc || !config::is_host_port(argv[i + 1]))
        throw config::config_error("--join needs the coordinator's HOST:PORT (its runtime.listen), a port from 1 to "
                                   "65535");
      cl.node.join = argv[++i];
    } else if (cl.command == "node" &&
               (arg == "--port" || arg == "--bind" || arg == "--tls-cert" || arg == "--tls-key" || arg == "--tls-ca")) {
      if (i + 1 >= argc)
        throw config::config_error(arg + " needs a value");
      std::string v = argv[++i];
      if (arg == "--port") {
        char* end = nullptr;
        auto port = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end != 0 || port < 0 || port > 65535)
          throw config::config_error("--port " + v + " is not a port number (0 to 65535)");
        cl.node.port = static_cast<std::uint16_t>(port);
      } else if (arg == "--bind") {
        cl.node.bind = v;
      } else {
        (arg == "--tls-cert" ? cl.node.tls.cert : arg == "--tls-key" ? cl.node.tls.key : cl.node.tls.ca) = v;
      }
    } else if (arg.rfind("--", 0) == 0) {
      throw config::config_error("unknown option " + arg + "\n\n" + usage(cl.command));
    } else if (arg.find('=') != std::string::npos) {
      cl.overrides.push_back(arg);
    } else if (cl.command == "resume") {
      cl.words.push_back(arg);
    } else {
      throw config::config_error("'" + arg + "' is not key=value\n\n" + usage(cl.command));
    }
  }
  if (cl.command == "config" || cl.command == "run" || cl.command == "node")
    if (!cl.words.empty())
      throw config::config_error("unexpected argument '" + cl.words.front() + "'\n\n" + usage(cl.command));
  cl.node.overrides = cl.overrides;
  return cl;
}

} // namespace flotilla::app
