// flotilla: clustered federated learning on CAF actors. The commands and their options are in
// command_line.cpp (`flotilla --help`); this file runs them and maps failures to exit codes.
#include <unistd.h>

#include <caf/config.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "app/checkpoint_check.hpp"
#include "app/checkpoint_file.hpp"
#include "app/command_line.hpp"
#include "app/exit_status.hpp"
#include "report/metrics_csv.hpp"
#include "app/outputs.hpp"
#include "report/report.hpp"
#include "report/report_command.hpp"
#include "report/report_error.hpp"
#include "app/resume.hpp"
#include "app/run_directory.hpp"
#include "app/run_recorder.hpp"
#include "app/summary_table.hpp"
#include "common/atomic_file.hpp"
#include "common/exit_code.hpp"
#include "config/config.hpp"
#include "config/coordinator_memory.hpp"
#include "config/key_classes.hpp"
#include "config/settings.hpp"
#include "data/data_error.hpp"
#include "data/partition.hpp"
#include "data/partition_error.hpp"
#include "model/model_error.hpp"
#include "model/torch_version.hpp"
#include "model/trainer.hpp"
#include "net/tls_check.hpp"
#include "runtime/local_run.hpp"
#include "runtime/actor_system_setup.hpp"
#include "fl/cluster_methods.hpp"
#include "runtime/node.hpp"
#include "runtime/run_plan.hpp"

using namespace flotilla;

namespace {

// Ctrl-C (or SIGTERM) ends the run at once; nodes see the connection close and drop the run's
// clients. metrics.jsonl already holds every finished round.
extern "C" void on_interrupt(int) {
  const char msg[] = "\nflotilla: interrupted; finished rounds are in the run directory's metrics.jsonl\n";
  (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
  _exit(exit_code::interrupted);
}

// Runs (or continues) the experiment `s` in `dir` and writes every output.
int execute(config::settings s, const nlohmann::json& doc, app::run_directory& dir,
            const runtime::run_plan& plan, std::shared_ptr<const fl::checkpoint> resume,
            std::chrono::steady_clock::time_point start) {
  // What clients keep on this machine (FedBN's layers) lives with the run unless told otherwise.
  if (s.runtime.client_state.empty())
    s.runtime.client_state = dir.file("client_state");
  const auto& data = plan.data;
  const auto& parts = *plan.partitions;
  std::printf("flotilla: %s, %u clients, %s partition, model %s, strategy %s, k=%s -> %s\n", s.name.c_str(),
              s.experiment.clients, s.partition.scheme.c_str(), s.model.name.c_str(),
              s.experiment.strategy.name.c_str(),
              fl::plain_fl(s.experiment.clustering.method) ? "none (no clustering)"
              : s.experiment.clustering.k == 0         ? "auto"
                                                       : std::to_string(s.experiment.clustering.k).c_str(),
              dir.path().c_str());
  std::printf("flotilla: %s loaded: %zu train / %zu test samples\n", data->name.c_str(), data->train.count,
              data->test.count);
  if (!s.runtime.nodes.empty())
    std::printf("flotilla: clients on %zu nodes (%s)\n", s.runtime.nodes.size(),
                s.runtime.tls.enabled() ? "mutual TLS" : "plain TCP, no TLS: use runtime.tls.* off a trusted network");
  auto recorder = std::make_shared<app::run_recorder>(dir.path(), config::run_id(doc, runtime::run_identity(s, *data, model::spec_of(plan.model))),
                                                      s.output.progress,
                                                      resume ? resume->metrics_bytes : 0);
  // Written from inside the run, before the actor system shuts down (see run_experiment).
  auto finish = [&](fl::run_report& report) {
    dir.keep();
    if (!recorder->write_error().empty())
      throw output_error(recorder->write_error());
    // A resumed run's recorder starts with the warnings its checkpoint kept.
    report.warnings.insert(report.warnings.end(), recorder->warnings().begin(), recorder->warnings().end());
    double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto summary = app::write_outputs(dir.path(), s, plan.model, report, parts, total);
    report::write_metrics_csv(dir.path());
    report::write_report({dir.path()}, dir.file("report.html"));
    std::printf("%s\n  run directory: %s (report.html)\n", app::summary_table(summary, report).c_str(),
                dir.path().c_str());
    std::fflush(stdout);
  };
  try {
    runtime::run_experiment(s, data, recorder, {}, doc.dump(), resume, finish, plan.partitions);
  } catch (...) {
    if (recorder->rounds_recorded() > 0)
      dir.keep(); // what it did is worth keeping (and resuming)
    throw;
  }
  return 0;
}

int run(const app::command_line& cl) {
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  auto start = std::chrono::steady_clock::now();
  auto doc = config::resolve_config(cl.config_file, cl.overrides);
  auto all_clients = runtime::resolve_all_clients(doc); // clients = 0: the data's natural clients
  auto s = config::settings_from(doc);
  // The coordinator's clustering state, estimated (a node runs none of it: it does not check).
  config::check_memory(s, config::machine_memory_bytes());
  model::configure_torch_threads(1);
  // Everything that can be refused is checked before the run directory exists: the data, how
  // it is split, the model on it, and a starting model.
  auto plan = all_clients ? runtime::make_run_plan(s, all_clients) : runtime::make_run_plan(s);
  config::check_memory(s, config::machine_memory_bytes(), model::spec_of(plan.model).parameters);
  if (!s.model.init.empty())
    runtime::initial_model(s, plan.model);
  if (s.runtime.tls.enabled()) // the key fits its certificate, which the CA signed
    net::check_tls_files(s.runtime.tls.cert, s.runtime.tls.key, s.runtime.tls.ca);
  app::run_directory dir(s);
  write_file_atomically(dir.file("config.json"), doc.dump(2) + "\n");
  return execute(s, doc, dir, plan, nullptr, start);
}

// flotilla resume RUN_DIR [key=value ...]: the run's own configuration, its last checkpoint.
int resume(const app::command_line& cl) {
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  auto start = std::chrono::steady_clock::now();
  if (cl.words.size() != 1)
    throw config::config_error("resume takes one run directory\n\n" + app::usage("resume"));
  const auto& run_dir = cl.words.front();
  // The directory's lock first: a second process on it is refused before anything is read.
  app::run_directory dir(run_dir);
  auto doc = config::resolve_config(run_dir + "/config.json", {});
  app::apply_resume_overrides(doc, cl.overrides);
  auto s = config::settings_from(doc);
  config::check_memory(s, config::machine_memory_bytes());
  model::configure_torch_threads(1);
  // The data may live elsewhere now (data.root, data.file); the run id holds its fingerprint, so
  // other data is refused with the checkpoint, before it is split (other data may not even have
  // the run's natural clients).
  auto data = data::load_dataset(s.data);
  auto spec = model::spec_of(config::fitted_model(s, *data));
  auto parameters = spec.parameters;
  config::check_memory(s, config::machine_memory_bytes(), parameters);
  // A TorchScript model's file is in the run id too: another module is refused here.
  auto cp = std::make_shared<const fl::checkpoint>(
    app::read_checked_checkpoint(run_dir, config::run_id(doc, runtime::run_identity(s, *data, spec)), s, parameters));
  auto plan = runtime::make_run_plan(s, data);
  std::printf("flotilla: resuming %s after %s round %u\n", run_dir.c_str(), cp->phase.c_str(), cp->round);
  return execute(s, doc, dir, plan, cp, start);
}

int version() {
  std::printf("flotilla %s\nCAF %d.%d.%d\nlibtorch %s\n", FLOTILLA_VERSION, CAF_VERSION / 10000,
              CAF_VERSION / 100 % 100, CAF_VERSION % 100, model::torch_version().c_str());
  return 0;
}

int dispatch(const app::command_line& cl) {
  if (cl.command == "help") {
    std::printf("%s", app::usage(cl.words.empty() ? "" : cl.words.front()).c_str());
    return 0;
  }
  if (cl.command == "version")
    return version();
  if (cl.help) {
    std::printf("%s", app::usage(cl.command).c_str());
    return 0;
  }
  if (cl.command == "report")
    return report::report_command(cl.words);
  if (cl.command == "config") {
    auto doc = config::resolve_config(cl.config_file, cl.overrides);
    runtime::resolve_all_clients(doc);
    config::check_memory(config::settings_from(doc), config::machine_memory_bytes()); // ranges and memory too
    std::printf("%s\n", doc.dump(2).c_str());
    return 0;
  }
  if (cl.command == "node")
    return runtime::serve_node(cl.node);
  if (cl.command == "resume")
    return resume(cl);
  return run(cl);
}

} // namespace

int main(int argc, char** argv) {
  try {
    return dispatch(app::parse_command_line(argc, argv));
  } catch (...) {
    auto status = app::exit_status_of(std::current_exception());
    std::fprintf(stderr, "flotilla: %s\n", status.message.c_str());
    return status.code;
  }
}
