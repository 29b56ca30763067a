// flotilla: clustered federated learning on CAF actors.
//   flotilla run    [--config FILE] [key=value ...]   the whole workflow, in this process
//   flotilla config [--config FILE] [key=value ...]   print the resolved configuration
//   flotilla node   --port P [--bind A] [--tls-*]    host client actors for remote runs
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "app/outputs.hpp"
#include "app/run_recorder.hpp"
#include "config/config.hpp"
#include "config/settings.hpp"
#include "data/data_error.hpp"
#include "data/partition.hpp"
#include "model/model_error.hpp"
#include "model/trainer.hpp"
#include "runtime/local_run.hpp"
#include "runtime/node.hpp"

using namespace flotilla;

namespace {

const char* usage =
  "usage: flotilla run    [--config FILE] [key=value ...]\n"
  "       flotilla config [--config FILE] [key=value ...]\n"
  "       flotilla node   [--port P] [--bind ADDR] [--tls-cert F --tls-key F --tls-ca F] [data.root=...]\n"
  "\n"
  "  run     clustered federated learning on real data: initial FedAvg rounds, K-means on\n"
  "          the clients' weights, a server per cluster, cluster rounds, evaluation.\n"
  "          Results go to output.dir/<time>-<name>/ (or output.run_dir).\n"
  "  config  print the resolved configuration (defaults <- FILE <- overrides).\n"
  "  node    host client actors for runs started elsewhere with runtime.nodes=HOST:PORT,...\n"
  "          (default port 4242, bound to 127.0.0.1; 0 picks a free port). Plain TCP unless\n"
  "          the three --tls-* files are given (mutual TLS with a private CA).\n"
  "\n"
  "Keys are those of config/default.json, dotted: clients=16 partition.scheme=rotated.\n";

struct command_line {
  std::string command;
  std::string config_file;
  std::vector<std::string> overrides;
  runtime::node_options node;
};

command_line parse(int argc, char** argv) {
  command_line cl;
  if (argc < 2)
    throw config::config_error(std::string("no command given\n\n") + usage);
  cl.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" || arg == "-c") {
      if (i + 1 >= argc)
        throw config::config_error("--config needs a file name");
      cl.config_file = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      cl.config_file = arg.substr(9);
    } else if (cl.command == "node" && (arg == "--port" || arg == "--bind" || arg == "--tls-cert" ||
                                         arg == "--tls-key" || arg == "--tls-ca")) {
      if (i + 1 >= argc)
        throw config::config_error(arg + " needs a value");
      std::string v = argv[++i];
      if (arg == "--port") {
        char* end = nullptr;
        auto port = std::strtol(v.c_str(), &end, 10);
        if (*end != 0 || port < 0 || port > 65535)
          throw config::config_error("--port " + v + " is not a port number (0 to 65535)");
        cl.node.port = static_cast<std::uint16_t>(port);
      } else if (arg == "--bind") {
        cl.node.bind = v;
      } else {
        (arg == "--tls-cert" ? cl.node.tls.cert : arg == "--tls-key" ? cl.node.tls.key : cl.node.tls.ca) = v;
      }
    } else if (arg.rfind("--", 0) == 0) {
      throw config::config_error("unknown option " + arg + "\n\n" + usage);
    } else {
      cl.overrides.push_back(arg);
    }
  }
  return cl;
}

// Ctrl-C (or SIGTERM) ends the run at once; nodes see the connection close and drop the run's
// clients. metrics.jsonl already holds every finished round.
extern "C" void on_interrupt(int) {
  const char msg[] = "\nflotilla: interrupted; finished rounds are in the run directory's metrics.jsonl\n";
  (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
  _exit(130);
}

int run(const command_line& cl) {
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  auto start = std::chrono::steady_clock::now();
  auto doc = config::resolve_config(cl.config_file, cl.overrides);
  auto s = config::settings_from(doc);
  model::configure_torch_threads(1);
  // Data first: a missing or corrupt file stops the run before it leaves a run directory.
  auto data = data::load_dataset(s.data);
  auto dir = app::make_run_dir(s);
  {
    std::ofstream out(std::filesystem::path(dir) / "config.json");
    out << doc.dump(2) << '\n';
  }
  std::printf("flotilla: %s, %u clients, %s partition, model %s, strategy %s, k=%u -> %s\n", s.name.c_str(),
              s.experiment.clients, s.partition.scheme.c_str(), s.model.name.c_str(),
              s.experiment.strategy.name.c_str(), s.experiment.clustering.k, dir.c_str());
  std::printf("flotilla: %s loaded: %zu train / %zu test images\n", data->name.c_str(), data->train.count,
              data->test.count);
  auto recorder = std::make_shared<app::run_recorder>((std::filesystem::path(dir) / "metrics.jsonl").string(),
                                                      s.output.progress);
  if (!s.runtime.nodes.empty())
    std::printf("flotilla: clients on %zu nodes (%s)\n", s.runtime.nodes.size(),
                s.runtime.tls.enabled() ? "mutual TLS" : "plain TCP, no TLS: use runtime.tls.* off a trusted network");
  auto report = runtime::run_experiment(s, data, recorder, {}, doc.dump());
  report.warnings = recorder->warnings();
  auto parts = data::make_partitions(data->train.labels, data->num_classes, s.experiment.total_clients(), s.partition,
                                     s.experiment.seed);
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto summary = app::write_outputs(dir, s, report, parts, total);
  std::printf("%s\n  run directory: %s\n", app::summary_table(summary, report).c_str(), dir.c_str());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help"))) {
      std::printf("%s", usage);
      return 0;
    }
    auto cl = parse(argc, argv);
    if (cl.command == "config") {
      auto doc = config::resolve_config(cl.config_file, cl.overrides);
      config::settings_from(doc); // validate ranges too
      std::printf("%s\n", doc.dump(2).c_str());
      return 0;
    }
    if (cl.command == "run")
      return run(cl);
    if (cl.command == "node") {
      cl.node.overrides = cl.overrides;
      return runtime::serve_node(cl.node);
    }
    throw config::config_error("unknown command '" + cl.command + "'\n\n" + usage);
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "flotilla: configuration error: %s\n", e.what());
    return 2;
  } catch (const runtime::run_error& e) {
    using kind = runtime::run_error::kind;
    auto k = e.cause();
    std::fprintf(stderr, "flotilla: %s%s\n",
                 k == kind::model ? "model error: " : k == kind::data ? "data error: " : k == kind::config ? "configuration error: " : "",
                 e.what());
    return k == kind::model ? 4 : k == kind::data ? 3 : k == kind::config ? 2 : 1;
  } catch (const data::data_error& e) {
    std::fprintf(stderr, "flotilla: data error: %s\n", e.what());
    return 3;
  } catch (const model::model_error& e) {
    std::fprintf(stderr, "flotilla: model error: %s\n", e.what());
    return 4;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "flotilla: %s\n", e.what());
    return 1;
  }
}
