// flotilla_bench: the fixed clustered-FL workload end to end beside its compute floor, scale
// runs with 1,000 and 10,000 simulated clients, and weight transfer between nodes beside raw
// TCP. Prints one table and writes bench/results/<date>-<host>.json.
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "config/config.hpp"
#include "config/settings.hpp"
#include "compute_floor.hpp"
#include "data/partition.hpp"
#include "model/trainer.hpp"
#include "wire_throughput.hpp"

using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace flotilla;

namespace {

std::string first_line_with(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      auto v = line.substr(line.find(':') + 1);
      return v.substr(v.find_first_not_of(" \t"));
    }
  return "unknown";
}

json machine() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::error_code ec;
  auto blas = fs::read_symlink("/etc/alternatives/libblas.so.3-x86_64-linux-gnu", ec).string();
  return {{"host", host},
          {"cores", std::thread::hardware_concurrency()},
          {"cpu", first_line_with("/proc/cpuinfo", "model name")},
          {"memory", first_line_with("/proc/meminfo", "MemTotal")},
          {"blas", ec ? "unknown" : blas}};
}

// Runs the flotilla binary on a config; returns its summary.json and metrics lines.
std::pair<json, std::vector<json>> run_flotilla(const std::string& config, const std::vector<std::string>& overrides,
                                                const fs::path& dir) {
  std::string cmd = std::string(FLOTILLA_BINARY) + " run --config " + config + " output.run_dir=" + dir.string();
  for (const auto& o : overrides)
    cmd += " " + o;
  cmd += " > " + (dir.string() + ".log") + " 2>&1";
  std::printf("  $ flotilla run --config %s", config.c_str());
  for (const auto& o : overrides)
    std::printf(" %s", o.c_str());
  std::printf("\n");
  std::fflush(stdout);
  if (std::system(cmd.c_str()) != 0)
    throw std::runtime_error("the run failed; see " + dir.string() + ".log");
  std::ifstream s(dir / "summary.json");
  std::vector<json> rounds;
  std::ifstream m(dir / "metrics.jsonl");
  std::string line;
  while (std::getline(m, line))
    rounds.push_back(json::parse(line));
  return {json::parse(s), rounds};
}

double mib(double bytes) {
  return bytes / (1024.0 * 1024.0);
}

} // namespace

int main(int argc, char** argv) {
  try {
    bool quick = argc > 1 && std::string(argv[1]) == "--quick"; // skips the 10,000-client run
    model::configure_torch_threads(1);
    auto tmp = fs::temp_directory_path() / ("flotilla-bench-" + std::to_string(getpid()));
    fs::create_directories(tmp);
    json out;
    out["machine"] = machine();
    auto cores = std::max(1u, std::thread::hardware_concurrency());
    std::printf("flotilla_bench on %s (%u cores, %s; BLAS %s)\n\n",
                out["machine"]["cpu"].get<std::string>().c_str(), cores, out["machine"]["memory"].get<std::string>().c_str(),
                out["machine"]["blas"].get<std::string>().c_str());

    // 1. The fixed workload, end to end, bracketed by two measurements of its compute floor
    //    (this VM's speed drifts by 10-15% over minutes; the mean of both is the floor).
    std::printf("end to end:\n");
    auto config = config::resolve_config("bench/workload.json", {});
    auto s = config::settings_from(config);
    auto data = data::load_dataset(s.data);
    std::uint64_t train_samples = 0;
    for (const auto& p : data::make_partitions(data->train.labels, data->num_classes, s.experiment.clients, s.partition, s.experiment.seed))
      train_samples += p.train.size();
    auto passes = train_samples * s.train.epochs * (s.experiment.rounds.initial + s.experiment.rounds.cluster);
    std::printf("  compute floor: %llu sample-passes on %u one-thread trainers\n",
                static_cast<unsigned long long>(passes), cores);
    std::fflush(stdout);
    double floor_before = bench::compute_floor_seconds(*data, s.model.name, passes, s.train, cores);
    auto [summary, rounds] = run_flotilla("bench/workload.json", {}, tmp / "workload");
    const auto& t = summary["timing"];
    if (t["samples_trained"].get<std::uint64_t>() != passes)
      throw std::runtime_error("the workload trained " + t["samples_trained"].dump() + " sample-passes, not " +
                               std::to_string(passes) + " (did a client fail?)");
    std::printf("  compute floor again\n");
    std::fflush(stdout);
    double floor_after = bench::compute_floor_seconds(*data, s.model.name, passes, s.train, cores);
    double floor = (floor_before + floor_after) / 2;
    auto evaluated = t["samples_evaluated"].get<std::uint64_t>();
    double eval_floor = bench::evaluation_floor_seconds(*data, s.model.name, evaluated, cores);
    double total = t["total_s"].get<double>();
    double train_phases = t["initial_s"].get<double>() + t["cluster_rounds_s"].get<double>();
    auto n_rounds = s.experiment.rounds.initial + s.experiment.rounds.cluster;
    out["end_to_end"] = {{"config", config},
                         {"total_s", total},
                         {"initial_s", t["initial_s"]},
                         {"clustering_s", t["clustering_s"]},
                         {"cluster_rounds_s", t["cluster_rounds_s"]},
                         {"evaluation_s", t["evaluation_s"]},
                         {"samples_trained", passes},
                         {"samples_evaluated", evaluated},
                         {"samples_per_s", t["samples_per_s"]},
                         {"weight_bytes_per_round", t["weight_bytes_moved"].get<double>() / n_rounds},
                         {"peak_rss_bytes", t["peak_rss_bytes"]},
                         {"global_accuracy", summary["final"]["global_accuracy"]},
                         {"floor_s", floor},
                         {"floor_before_s", floor_before},
                         {"floor_after_s", floor_after},
                         {"floor_samples_per_s", static_cast<double>(passes) / floor},
                         {"evaluation_floor_s", eval_floor},
                         {"ratio_total_to_floor", total / floor},
                         {"ratio_total_to_floor_with_evaluation", total / (floor + eval_floor)},
                         {"ratio_training_phases_to_floor", train_phases / floor}};

    // 2. Scale: many simulated clients in one process, a tenth of them per round.
    std::printf("scale:\n");
    double dataset_bytes = static_cast<double>((data->train.pixels.size() + data->test.pixels.size()) * sizeof(float) +
                                               (data->train.labels.size() + data->test.labels.size()) * 8);
    out["scale"] = json::array();
    std::vector<int> sizes{1000, 10000};
    if (quick)
      sizes.pop_back();
    for (int clients : sizes) {
      auto [sum, rs] = run_flotilla("bench/scale.json", {"clients=" + std::to_string(clients)},
                                    tmp / ("scale-" + std::to_string(clients)));
      double round_s = 0;
      int n = 0;
      for (const auto& r : rs)
        if (r["phase"] == "initial" && r["round"] == 1) { // a sampled round (fraction_fit)
          round_s += r["seconds"].get<double>();
          ++n;
        }
      double peak = sum["timing"]["peak_rss_bytes"].get<double>();
      out["scale"].push_back({{"clients", clients},
                              {"peak_rss_bytes", peak},
                              {"dataset_bytes", dataset_bytes},
                              {"beyond_dataset_bytes", peak - dataset_bytes},
                              {"seconds_per_sampled_round", n > 0 ? round_s / n : 0.0},
                              {"total_s", sum["timing"]["total_s"]},
                              {"global_accuracy", sum["final"]["global_accuracy"]}});
    }

    // 3. Weights between two nodes over loopback, beside raw TCP.
    std::printf("wire:\n");
    std::fflush(stdout);
    out["wire"] = json::array();
    for (std::size_t floats : {std::size_t{80202}, std::size_t{1663370}}) {
      auto bytes = floats * sizeof(float);
      double caf_s = bench::caf_echo_seconds(bytes, 10);
      double tcp_s = bench::tcp_echo_seconds(bytes, 10);
      out["wire"].push_back({{"bytes", bytes},
                             {"caf_round_trip_s", caf_s},
                             {"tcp_round_trip_s", tcp_s},
                             {"caf_mb_per_s", 2 * bytes / caf_s / 1e6},
                             {"tcp_mb_per_s", 2 * bytes / tcp_s / 1e6}});
    }

    // The table.
    const auto& e = out["end_to_end"];
    std::printf("\n  end to end (bench/workload.json: %u clients, %s, %u+%u rounds)\n", s.experiment.clients, s.model.name.c_str(),
                s.experiment.rounds.initial, s.experiment.rounds.cluster);
    std::printf("    total %.1fs = initial %.1fs + clustering %.1fs + cluster rounds %.1fs + evaluation %.1fs (+ load)\n",
                total, e["initial_s"].get<double>(), e["clustering_s"].get<double>(), e["cluster_rounds_s"].get<double>(),
                e["evaluation_s"].get<double>());
    std::printf("    training %.0f samples/s; compute floor %.0f samples/s (%.1fs for the same %llu sample-passes)\n",
                e["samples_per_s"].get<double>(), e["floor_samples_per_s"].get<double>(), floor,
                static_cast<unsigned long long>(passes));
    std::printf("    end-to-end / floor: %.2f (training phases only: %.2f)\n", total / floor, train_phases / floor);
    std::printf("    the run also evaluated %llu images (floor %.1fs): end-to-end / (training + evaluation floor) %.2f\n",
                static_cast<unsigned long long>(evaluated), eval_floor, total / (floor + eval_floor));
    std::printf("    floor measured before and after the run: %.1fs, %.1fs\n", floor_before, floor_after);
    std::printf("    weights moved per round %.1f MiB; peak RSS %.0f MiB; global accuracy %.2f%%\n",
                mib(e["weight_bytes_per_round"].get<double>()), mib(e["peak_rss_bytes"].get<double>()),
                100 * e["global_accuracy"].get<double>());
    std::printf("\n  scale (bench/scale.json: fraction_fit 0.1, clustering on 64-dim sketches)\n");
    for (const auto& x : out["scale"])
      std::printf("    %6d clients: %.2fs per sampled round, peak RSS %.0f MiB (%.0f MiB beyond the %.0f MiB dataset)\n",
                  x["clients"].get<int>(), x["seconds_per_sampled_round"].get<double>(),
                  mib(x["peak_rss_bytes"].get<double>()), mib(x["beyond_dataset_bytes"].get<double>()),
                  mib(x["dataset_bytes"].get<double>()));
    std::printf("\n  weights between two nodes on loopback (echo round trip, median of 10)\n");
    for (const auto& x : out["wire"])
      std::printf("    %7.2f MB: CAF %.2f ms (%.0f MB/s), raw TCP %.2f ms (%.0f MB/s)\n", x["bytes"].get<double>() / 1e6,
                  1e3 * x["caf_round_trip_s"].get<double>(), x["caf_mb_per_s"].get<double>(),
                  1e3 * x["tcp_round_trip_s"].get<double>(), x["tcp_mb_per_s"].get<double>());

    char date[32];
    auto now = std::time(nullptr);
    std::strftime(date, sizeof(date), "%Y-%m-%d", std::localtime(&now));
    fs::create_directories("bench/results");
    auto path = "bench/results/" + std::string(date) + "-" + out["machine"]["host"].get<std::string>() + ".json";
    std::ofstream(path) << out.dump(2) << '\n';
    std::printf("\n  results: %s\n", path.c_str());
    fs::remove_all(tmp);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "flotilla_bench: %s\n", e.what());
    return 1;
  }
}
