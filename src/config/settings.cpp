#include "config/settings.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>


#include "config/config.hpp"
#include "config/settings_reader.hpp"
#include "common/small_file.hpp"
#include "fl/attack.hpp"
#include "fl/cluster_methods.hpp"
#include "fl/strategy.hpp"
#include "model/model_spec.hpp"

namespace flotilla::config {

using json = nlohmann::json;
using detail::at;
using detail::client_ids;
using detail::number;
using detail::one_of;
using detail::read_privacy;
using detail::text;
using detail::u32_max;

namespace {

void read_rounds(const json& doc, fl::round_options& r) {
  r.initial = number<std::uint32_t>(doc, "rounds.initial", 1, 100000);
  r.cluster = number<std::uint32_t>(doc, "rounds.cluster", 0, 100000);
  r.fraction_fit = number<double>(doc, "rounds.fraction_fit", 1e-6, 1);
  r.quorum = number<double>(doc, "rounds.quorum", 0, 1);
  r.timeout_s = number<double>(doc, "rounds.timeout_s", 0.01, 86400);
  r.target_accuracy = number<double>(doc, "rounds.target_accuracy", 0, 1);
  r.stop_at_target = at(doc, "rounds.stop_at_target").get<bool>();
  r.eval_every = number<std::uint32_t>(doc, "rounds.eval_every", 1, u32_max);
  r.cluster_lockstep = one_of(doc, "rounds.cluster_sync", {"free", "lockstep"}) == "lockstep";
  r.stragglers.fraction = number<double>(doc, "rounds.stragglers", 0, 1);
  r.stragglers.policy = one_of(doc, "strategy.stragglers", {"auto", "drop", "keep"});
  if (r.stragglers.fraction >= 1 && !fl::keeps_stragglers(r.stragglers, text(doc, "strategy.name")))
    throw config_error("config key 'rounds.stragglers' = 1 with stragglers dropped leaves no one to train; lower it, "
                       "or set strategy.stragglers=keep");
  if (r.stop_at_target && r.target_accuracy == 0)
    throw config_error("config key 'rounds.stop_at_target' = true needs rounds.target_accuracy above 0");
}

// strategy.mode and its knobs: how the coordinator collects updates, not a strategy's knobs.
const std::set<std::string>& async_keys() {
  static const std::set<std::string> keys{"mode", "concurrency", "buffer", "staleness", "staleness_exponent",
                                          "max_staleness", "async_alpha"};
  return keys;
}

void read_async(const json& doc, fl::experiment& ex) {
  auto& a = ex.async;
  a.mode = one_of(doc, "strategy.mode", {"sync", "buffered", "async"});
  a.concurrency = number<std::uint32_t>(doc, "strategy.concurrency", 1, 1000000);
  a.buffer = number<std::uint32_t>(doc, "strategy.buffer", 1, 1000000);
  a.staleness = one_of(doc, "strategy.staleness", {"constant", "polynomial", "hinge"});
  a.exponent = number<double>(doc, "strategy.staleness_exponent", 0, 10);
  a.max_staleness = number<std::uint32_t>(doc, "strategy.max_staleness", 0, 1000000);
  a.alpha = number<double>(doc, "strategy.async_alpha", 1e-6, 1);
  if (!a.asynchronous())
    return;
  if (a.mode == "buffered" && a.buffer > a.concurrency)
    throw config_error("strategy.buffer = " + std::to_string(a.buffer) + " can never fill with strategy.concurrency = " +
                       std::to_string(a.concurrency) + " clients in flight; raise concurrency or lower buffer");
  // Each cluster round is a server step whose fits stay in flight into the next: CFL's split
  // needs every member's update of one round, and IFCA moves members between clusters at every
  // round's end, neither of which a stream of steps has.
  if (ex.rounds.cluster > 0 && (ex.clustering.method == "cfl" || ex.clustering.method == "ifca"))
    throw config_error("strategy.mode=" + a.mode + " with clustering.method=" + ex.clustering.method +
                       ": the cluster rounds would be asynchronous server steps, and " +
                       (ex.clustering.method == "cfl" ? "CFL splits on every member's update of one round"
                                                      : "IFCA moves members between clusters after every round") +
                       "; use kmeans or agglomerative, or rounds.cluster=0");
  if (ex.rounds.initial < 2)
    throw config_error("strategy.mode=" + a.mode + " runs the initial server steps before the last initial round "
                       "(which asks every client, for clustering): rounds.initial must be at least 2");
}

// The `strategy` subtree as data: the name and every knob some strategy declares (fl::all_knobs,
// each with its declared range), all required; a key no strategy declares is refused.
void read_strategy(const json& doc, fl::strategy_options& s) {
  s.name = one_of(doc, "strategy.name", fl::strategy_names());
  s.knobs.clear();
  for (const auto& k : fl::all_knobs()) {
    auto key = "strategy." + k.key;
    auto v = number<double>(doc, key, k.min, k.max);
    if (k.integer && v != std::floor(v))
      throw config_error("config key '" + key + "' = " + describe(at(doc, key)) + " is not a whole number");
    s.knobs[k.key] = v;
  }
  for (const auto& [key, value] : at(doc, "strategy").items())
    if (key != "name" && key != "stragglers" && !async_keys().count(key) && !fl::find_knob(key)) {
      std::string known;
      for (const auto& k : fl::all_knobs())
        known += (known.empty() ? "" : ", ") + k.key;
      throw config_error("config key 'strategy." + key + "' is not a knob of any strategy; known: name, stragglers, "
                         "mode, concurrency, buffer, staleness, staleness_exponent, max_staleness, async_alpha, " +
                         known);
    }
}

void read_clustering(const json& doc, fl::experiment& ex) {
  auto& cl = ex.clustering;
  cl.method = one_of(doc, "clustering.method", fl::cluster_method_names());
  const auto& method = fl::cluster_method_named(cl.method);
  cl.k_max = number<std::uint32_t>(doc, "clustering.k_max", 2, u32_max);
  if (at(doc, "clustering.k").is_string()) {
    cl.k = 0; // "auto": chosen by silhouette over 2..k_max
    if (method.initial == fl::cluster_method::grouping::one_cluster)
      throw config_error("config key 'clustering.k' = \"auto\" does not apply to clustering.method=" + cl.method +
                         ", which starts from one cluster and splits it");
  } else {
    cl.k = number<std::uint32_t>(doc, "clustering.k", 1, u32_max);
    if (cl.k > ex.clients)
      throw config_error("config key 'clustering.k' = " + std::to_string(cl.k) + " is more than clients = " +
                         std::to_string(ex.clients) + "; allowed: 1 to the number of clients, or \"auto\"");
  }
  cl.restarts = number<std::uint32_t>(doc, "clustering.restarts", 1, 1000);
  cl.max_iterations = number<std::uint32_t>(doc, "clustering.max_iterations", 1, 100000);
  cl.sketch_dim = number<std::uint32_t>(doc, "clustering.sketch_dim", 0, 1 << 24);
  cl.linkage = one_of(doc, "clustering.linkage", {"ward", "average"});
  cl.cfl_eps1 = number<double>(doc, "clustering.cfl_eps1", 0, 1e9);
  cl.cfl_eps2 = number<double>(doc, "clustering.cfl_eps2", 0, 1e9);
  cl.cfl_min_size = number<std::uint32_t>(doc, "clustering.cfl_min_size", 1, u32_max);
  if (fl::plain_fl(cl.method) && ex.rounds.cluster > 0)
    throw config_error("clustering.method=none is plain federated learning, without clusters to run rounds in: "
                       "rounds.cluster = " + std::to_string(ex.rounds.cluster) +
                       " must be 0 (or choose kmeans, agglomerative, cfl or ifca)");
}

// `faults`: [{"target": 3 | "server:0", "kind": "crash"|"hang"|"slow", "phase": "initial"|"cluster",
//             "round": r, "seconds": s}], every field checked against the run.
std::vector<fl::fault> read_faults(const json& doc, const fl::experiment& ex) {
  std::vector<fl::fault> out;
  const std::string form = "; a fault looks like {\"target\": 3 or \"server:0\", \"kind\": \"crash\" | \"hang\" | \"crash_in_secagg\" | "
                           "\"inconsistent_model\" | \"slow\", \"phase\": \"initial\" | \"cluster\", \"round\": 2, \"seconds\": 5}";
  for (const auto& f : at(doc, "faults")) {
    auto bad = [&](const std::string& why) { return config_error("faults: " + describe(f) + ": " + why + form); };
    if (!f.is_object())
      throw bad("not an object");
    for (auto it = f.begin(); it != f.end(); ++it)
      if (it.key() != "target" && it.key() != "kind" && it.key() != "phase" && it.key() != "round" &&
          it.key() != "seconds")
        throw bad("unknown field '" + it.key() + "'");
    fl::fault x;
    if (!f.contains("target") || !f.contains("kind") || !f.contains("phase") || !f.contains("round"))
      throw bad("target, kind, phase and round are required");
    const auto& t = f["target"];
    if (t.is_number_unsigned() && t.get<std::uint64_t>() < ex.total_clients()) {
      x.client = t.get<std::int64_t>();
    } else if (t.is_string() && t.get<std::string>().rfind("server:", 0) == 0 &&
               t.get<std::string>().size() > 7 &&
               t.get<std::string>().find_first_not_of("0123456789", 7) == std::string::npos &&
               t.get<std::string>().size() < 14) {
      x.server_of = std::stoll(t.get<std::string>().substr(7));
    } else {
      throw bad("target must be a client id (0 to " + std::to_string(ex.total_clients() - 1) +
                ") or \"server:<cluster id>\"");
    }
    if (!f["kind"].is_string() || (f["kind"] != "crash" && f["kind"] != "hang" && f["kind"] != "slow" &&
                                   f["kind"] != "crash_in_secagg" && f["kind"] != "inconsistent_model"))
      throw bad("kind must be crash, hang, slow, crash_in_secagg or inconsistent_model");
    if (f["kind"] == "inconsistent_model" &&
        (!at(doc, "privacy.secure_aggregation").get<bool>() || !t.is_string() || f["phase"] != "cluster"))
      throw bad("inconsistent_model makes a cluster server send one member another model than the registered one "
                "(Pasquini et al.'s attack on secure aggregation): it needs privacy.secure_aggregation=true, a "
                "\"server:<cluster>\" target and the cluster phase");
    if (f["kind"] == "crash_in_secagg" && !at(doc, "privacy.secure_aggregation").get<bool>())
      throw bad("crash_in_secagg crashes a client in the middle of secure aggregation: set "
                "privacy.secure_aggregation=true");
    if (f["kind"] == "crash_in_secagg" && f["phase"] == "initial" && f["round"] == ex.rounds.initial &&
        !fl::plain_fl(ex.clustering.method))
      throw bad("the initial phase's last round feeds clustering and runs in the clear: crash_in_secagg has no "
                "secure aggregation to crash in; choose an earlier round or the cluster phase");
    x.kind = f["kind"].get<std::string>();
    if (!f["phase"].is_string() || (f["phase"] != "initial" && f["phase"] != "cluster"))
      throw bad("phase must be initial or cluster");
    x.phase = f["phase"].get<std::string>();
    if (x.server_of >= 0 && x.phase != "cluster")
      throw bad("a server exists only in the cluster phase");
    // Clusters are numbered 0..k-1 (k = auto: at most k_max); CFL's splits add clusters later.
    const auto& cl = ex.clustering;
    auto clusters = cl.k > 0 ? cl.k : cl.k_max;
    if (x.server_of >= 0 && !fl::cluster_method_named(cl.method).splits &&
        x.server_of >= static_cast<std::int64_t>(clusters))
      throw bad("server:" + std::to_string(x.server_of) + " names no cluster: clusters are 0 to " +
                std::to_string(clusters - 1) + (cl.k > 0 ? " with clustering.k=" : " with clustering.k_max=") +
                std::to_string(clusters));
    auto last = x.phase == "initial" ? ex.rounds.initial : ex.rounds.cluster;
    if (!f["round"].is_number_unsigned() || f["round"].get<std::uint64_t>() < 1 || f["round"].get<std::uint64_t>() > last)
      throw bad("round must be 1 to " + std::to_string(last) + " (the " + x.phase + " phase's rounds)");
    x.round = f["round"].get<std::uint32_t>();
    if (f.contains("seconds")) {
      if (!f["seconds"].is_number() || f["seconds"].get<double>() < 0 || f["seconds"].get<double>() > 86400)
        throw bad("seconds must be 0 to 86400");
      x.seconds = f["seconds"].get<double>();
    }
    if (x.kind == "slow" && x.seconds <= 0)
      throw bad("a slow fault needs seconds above 0");
    out.push_back(x);
  }
  return out;
}

void read_attack(const json& doc, fl::experiment& ex) {
  auto& a = ex.attack;
  a.clients = client_ids(doc, "attack.clients", ex.total_clients());
  a.kind = one_of(doc, "attack.kind", fl::attack_kinds());
  a.scale = number<double>(doc, "attack.scale", 0, 1e6);
}

void read_devices(const json& doc, fl::experiment& ex) {
  ex.virtual_clock = one_of(doc, "clock", {"wall", "virtual"}) == "virtual";
  auto& d = ex.devices;
  d.file = text(doc, "devices.file");
  d.speed = one_of(doc, "devices.speed", {"lognormal", "pareto"});
  d.ms_per_sample = number<double>(doc, "devices.ms_per_sample", 1e-6, 1e6);
  d.speed_sigma = number<double>(doc, "devices.speed_sigma", 0, 5);
  d.pareto_alpha = number<double>(doc, "devices.pareto_alpha", 0.1, 100);
  d.kbps = number<double>(doc, "devices.kbps", 1e-3, 1e12);
  d.bandwidth_sigma = number<double>(doc, "devices.bandwidth_sigma", 0, 5);
  d.online_s = number<double>(doc, "devices.online_s", 0, 1e12);
  d.offline_s = number<double>(doc, "devices.offline_s", 0, 1e12);
  if (ex.virtual_clock) { // rounds.timeout_s is simulated; real requests get the wall-clock backstop
    ex.rounds.sim_deadline_s = ex.rounds.timeout_s;
    ex.rounds.timeout_s = number<double>(doc, "runtime.wall_timeout_s", 1, 1e7);
  }
  if ((d.online_s > 0 && d.online_s < 1) || (d.offline_s > 0 && d.offline_s < 1))
    throw config_error("devices.online_s and devices.offline_s are simulated seconds, at least 1 (or both 0: always "
                       "online)");
  if ((d.online_s > 0) != (d.offline_s > 0))
    throw config_error("devices.online_s and devices.offline_s go together: both above 0 (clients come and go), or "
                       "both 0 (always online)");
  ex.selection_policy = one_of(doc, "selection.policy", {"resources", "fastest", "random"});
  if (ex.selection_policy == "fastest" && !ex.virtual_clock)
    throw config_error("selection.policy=fastest ranks the clients' devices, which exist under clock=virtual only "
                       "(set clock=virtual, or selection.policy=resources|random)");
}

std::vector<device_profile> read_profiles(const json& doc, std::uint32_t clients) {
  std::vector<device_profile> out;
  for (const auto& p : at(doc, "selection.profiles")) {
    if (!p.is_object())
      throw config_error("selection.profiles: each entry must be an object like "
                         "{\"clients\": [0, 1], \"cpu\": 50, \"mem\": 20}");
    device_profile profile;
    for (auto it = p.begin(); it != p.end(); ++it) {
      const auto& k = it.key();
      if (k == "clients" && it->is_array()) {
        for (const auto& c : *it) {
          if (!c.is_number_unsigned() || c.get<std::uint64_t>() >= clients)
            throw config_error("selection.profiles: client " + describe(c) + " is not a client id (0 to clients-1)");
          profile.clients.push_back(c.get<std::uint32_t>());
        }
      } else if ((k == "cpu" || k == "mem") && it->is_number() && it->get<double>() >= 0 && it->get<double>() <= 100) {
        (k == "cpu" ? profile.cpu : profile.mem) = it->get<double>();
      } else {
        throw config_error("selection.profiles: '" + k + "': " + describe(*it) +
                           " is not allowed; entries take clients (a list of ids), cpu and mem (percent, 0 to 100)");
      }
    }
    out.push_back(profile);
  }
  return out;
}

void read_runtime(const json& doc, runtime_options& rt) {
  rt.trainers = number<std::uint32_t>(doc, "runtime.trainers", 0, 1024);
  rt.scheduler_threads = number<std::uint32_t>(doc, "runtime.scheduler_threads", 0, 1024);
  for (const auto& n : at(doc, "runtime.nodes")) {
    if (!n.is_string())
      throw config_error("config key 'runtime.nodes': " + describe(n) + " is not host:port");
    auto text = n.get<std::string>();
    if (!is_host_port(text))
      throw config_error("config key 'runtime.nodes': \"" + text + "\" is not host:port with a port from 1 to 65535");
    rt.nodes.push_back(text);
  }
  rt.placement = one_of(doc, "runtime.placement", {"round_robin", "block"});
  rt.link_nodes = at(doc, "runtime.link_nodes").get<bool>();
  // Heartbeats are how a hung node is found; they cannot be switched off (0 would wait for
  // rounds.timeout_s per phase instead).
  rt.heartbeat_s = number<double>(doc, "runtime.heartbeat_s", 0.05, 3600);
  rt.connection_timeout_s = number<double>(doc, "runtime.connection_timeout_s", 1, 86400);
  if (rt.connection_timeout_s <= 2 * rt.heartbeat_s)
    throw config_error("config key 'runtime.connection_timeout_s' = " + std::to_string(rt.connection_timeout_s) +
                       " must exceed twice runtime.heartbeat_s = " + std::to_string(rt.heartbeat_s) +
                       " (a node is declared hung after missing heartbeats for that long)");
  rt.connect_attempts = number<std::uint32_t>(doc, "runtime.connect_attempts", 1, 1000);
  // Between 64 KiB and 32 MiB: a chunk and its header stay well below the guard's 64 MiB cap.
  rt.chunk_kib = number<std::uint32_t>(doc, "runtime.chunk_kib", 64, 32768);
  rt.client_state = text(doc, "runtime.client_state");
  rt.liveness_s = number<double>(doc, "runtime.liveness_s", 0, 3600);
  rt.wall_timeout_s = number<double>(doc, "runtime.wall_timeout_s", 1, 1e7);
  rt.async_checkpoint_s = number<double>(doc, "runtime.async_checkpoint_s", 0, 1e7);
  rt.tls.cert = text(doc, "runtime.tls.cert");
  rt.tls.key = text(doc, "runtime.tls.key");
  rt.tls.ca = text(doc, "runtime.tls.ca");
  rt.listen = number<std::uint32_t>(doc, "runtime.listen", 0, 65535);
  if (rt.tls.enabled())
    check_tls_files(rt.tls, "runtime.tls.");
}

// A strategy whose rule cannot hold for the rounds the configuration makes (Krum's n >= 2f + 3)
// would keep its model in every such round: the run would end having learned nothing there.
// The initial rounds' size is known here; a cluster's is not (clustering decides), but no
// cluster can be larger than every client less one per other cluster, so when even that
// cannot aggregate, no cluster round could. A cluster that turns out too small fails the run
// at its round (actors/round_engine).
void check_strategy_fits(const fl::experiment& ex) {
  auto strategy = fl::make_strategy(ex.strategy);
  const auto& r = ex.rounds;
  // Dropped stragglers are never asked: a round aggregates what is left of its sample.
  auto left = [&](std::size_t n) {
    if (fl::keeps_stragglers(r.stragglers, ex.strategy.name))
      return n;
    return n - std::min<std::size_t>(n, static_cast<std::size_t>(std::lround(r.stragglers.fraction * static_cast<double>(n))));
  };
  // Every initial round but the last asks a sample; the last asks everyone (clustering) and keeps
  // its stragglers. Without clustering (plain FL) every round asks a sample.
  bool plain = fl::plain_fl(ex.clustering.method);
  auto asked = r.initial >= 2 || plain ? left(fl::participants_of(ex.clients, r.fraction_fit)) : std::size_t{ex.clients};
  if (auto why = strategy->cannot_ever_aggregate(asked); !why.empty())
    throw config_error("strategy.name=" + ex.strategy.name + " cannot aggregate an initial round of " +
                       std::to_string(asked) + " clients (clients = " + std::to_string(ex.clients) +
                       ", rounds.fraction_fit = " + describe(json(r.fraction_fit)) + "): " + why);
  if (r.cluster == 0)
    return;
  const auto& cl = ex.clustering;
  bool one_first = fl::cluster_method_named(cl.method).initial == fl::cluster_method::grouping::one_cluster;
  std::uint32_t fewest = one_first || cl.k == 1 ? 1 : cl.k > 0 ? cl.k : (ex.clients < 3 ? 1 : 2);
  std::size_t largest = ex.clients - std::min(fewest, ex.clients) + 1 + ex.late_clients;
  auto in_cluster = left(fl::participants_of(largest, r.fraction_fit));
  if (auto why = strategy->cannot_ever_aggregate(in_cluster); !why.empty())
    throw config_error("strategy.name=" + ex.strategy.name + " cannot aggregate any cluster round: with " +
                       std::to_string(fewest) + " clusters the largest has at most " + std::to_string(largest) +
                       " members and a round asks " + std::to_string(in_cluster) + " of them: " + why);
}

settings read_settings(const json& doc);

} // namespace

model::model_choice fitted_model(const settings& s, const data::image_shape& shape, std::size_t classes) {
  model::model_choice choice;
  choice.name = s.model.name;
  choice.channels = shape.channels;
  choice.height = shape.height;
  choice.width = shape.width;
  choice.classes = classes;
  choice.hidden = s.model.hidden;
  choice.file = s.model.file;
  choice.buffers = s.model.buffers;
  if (!model::takes_input(choice.name, shape.channels, shape.height, shape.width)) {
    std::string fitting;
    for (const auto& m : model::model_names())
      if (m != "torchscript" && model::takes_input(m, shape.channels, shape.height, shape.width))
        fitting += (fitting.empty() ? "" : " or ") + m;
    auto dims = shape.channels == 1 && shape.height == 1
                  ? std::to_string(shape.width) + "-feature"
                  : std::to_string(shape.channels) + "x" + std::to_string(shape.height) + "x" + std::to_string(shape.width);
    throw config_error("model.name=" + s.model.name + " does not fit data.dataset=" + s.data.dataset + " (" + dims +
                       " samples, " + std::to_string(classes) + " classes): it takes " + model::input_text(s.model.name) +
                       "; use " + fitting + " for " + s.data.dataset);
  }
  return choice;
}

model::model_choice fitted_model(const settings& s, const data::dataset& data) {
  return fitted_model(s, {data.train.channels, data.train.height, data.train.width}, data.num_classes);
}

bool is_host_port(const std::string& text) {
  auto colon = text.rfind(':');
  auto port = colon == std::string::npos ? std::string{} : text.substr(colon + 1);
  bool digits = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
  return colon != 0 && digits && std::stoul(port) >= 1 && std::stoul(port) <= 65535;
}

settings settings_from(const json& doc) {
  // A document that lacks a key or has one of another type (e.g. one received over the
  // network, not merged over the defaults) is a configuration error like any other.
  try {
    return read_settings(doc);
  } catch (const json::exception& e) {
    throw config_error(std::string("configuration is incomplete or mistyped: ") + e.what() +
                       "; merge it over config/default.json's keys");
  }
}

namespace {

settings read_settings(const json& doc) {
  settings s;
  s.name = text(doc, "name");
  // The name becomes part of the run directory's name: it must not reach outside output.dir.
  if (s.name.empty() || s.name == "." || s.name == ".." ||
      s.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != std::string::npos)
    throw config_error("config key 'name' = \"" + s.name + "\" is not allowed; use letters, digits, '.', '_' and '-' "
                       "(it names the run directory inside output.dir)");
  auto& ex = s.experiment;
  ex.seed = number<std::uint64_t>(doc, "seed", 0, (std::uint64_t{1} << 53));
  // 0: every natural client of the data (partition.scheme=natural), resolved once the data is read.
  ex.clients = number<std::uint32_t>(doc, "clients", 0, u32_max);
  if (ex.clients == 0) // runtime::resolve_all_clients replaces 0 with the data's count before this
    throw config_error(text(doc, "partition.scheme") == "natural"
                         ? "config key 'clients' = 0 (every natural client) was not resolved from the data"
                         : "config key 'clients' = 0 means every natural client and needs partition.scheme=natural; "
                           "give a number of clients");

  s.data.dataset = one_of(doc, "data.dataset", data::dataset_names());
  s.data.root = text(doc, "data.root");
  s.data.train_limit = number<std::size_t>(doc, "data.train_limit", 0, 100000000);
  s.data.test_limit = number<std::size_t>(doc, "data.test_limit", 0, 100000000);
  s.data.file = text(doc, "data.file");
  s.data.alpha = number<double>(doc, "data.alpha", 0, 100);
  s.data.beta = number<double>(doc, "data.beta", 0, 100);
  s.data.iid = at(doc, "data.iid").get<bool>();
  s.data.users = number<std::uint32_t>(doc, "data.users", 1, 10000000);
  s.data.clusters = number<std::uint32_t>(doc, "data.clusters", 1, 1000);
  s.data.seed = ex.seed;
  if (s.data.dataset == "tensors" && s.data.file.empty())
    throw config_error("data.dataset=tensors reads data.file: set it to the file torch.save wrote (README, Your own data)");

  s.partition.scheme = one_of(doc, "partition.scheme", data::partition_schemes());
  // Natural clients need no pooled labels: generated sets are then made user by user on demand.
  s.data.on_demand = s.partition.scheme == "natural";
  s.partition.alpha = number<double>(doc, "partition.alpha", 1e-3, 1e6);
  s.partition.shards_per_client = number<std::uint32_t>(doc, "partition.shards_per_client", 1, 1000);
  s.partition.groups = number<std::uint32_t>(doc, "partition.groups", 1, 360);
  s.partition.local_test_fraction = number<double>(doc, "partition.local_test_fraction", 0.01, 0.9);

  s.model.name = one_of(doc, "model.name", model::model_names());
  s.model.init = text(doc, "model.init");
  s.model.hidden.clear();
  for (const auto& h : at(doc, "model.hidden")) {
    if (!h.is_number_unsigned() || h.get<std::uint64_t>() < 1 || h.get<std::uint64_t>() > 1000000)
      throw config_error("config key 'model.hidden': " + describe(h) + " is not a layer size (1 to 1000000)");
    s.model.hidden.push_back(h.get<std::size_t>());
  }
  if (s.model.name == "mlp" && s.model.hidden.empty())
    throw config_error("config key 'model.hidden' = [] gives model.name=mlp no hidden layer; give sizes, e.g. [200, 200]");
  s.model.file = text(doc, "model.file");
  s.model.buffers = one_of(doc, "model.buffers", {"average", "local"});
  if (s.model.name == "torchscript" && s.model.file.empty())
    throw config_error("model.name=torchscript reads model.file: set it to the file torch.jit.save(torch.jit.script(model), "
                       "PATH) wrote (examples/models/)");
  if (s.model.name != "torchscript" && !s.model.file.empty())
    throw config_error("config key 'model.file' is read by model.name=torchscript only; model.name=" + s.model.name +
                       " is built in (set model.name=torchscript to train the module in " + s.model.file + ")");
  if (s.model.name != "torchscript" && s.model.buffers != "average")
    throw config_error("model.buffers=" + s.model.buffers + " keeps BatchNorm layers local (FedBN); model.name=" +
                       s.model.name + " has none: use model.name=torchscript with a module that has BatchNorm");
  // A model fits a dataset when it takes its samples' shape (the model and dataset tables say
  // which); data of one's own says its shape and classes when it is read (run_plan.cpp checks).
  const auto& data_row = data::dataset_named(s.data.dataset);
  if (data_row.shape_known())
    fitted_model(s, data_row.shape, data_row.classes);

  s.train.epochs = number<std::uint32_t>(doc, "train.epochs", 1, 1000);
  ex.rounds.epochs = s.train.epochs;
  s.train.batch_size = number<std::uint32_t>(doc, "train.batch_size", 1, 65536);
  s.train.lr = number<double>(doc, "train.lr", 1e-9, 10);
  s.train.momentum = number<double>(doc, "train.momentum", 0, 0.999);
  s.train.weight_decay = number<double>(doc, "train.weight_decay", 0, 1);

  read_rounds(doc, ex.rounds);
  read_strategy(doc, ex.strategy);

  read_clustering(doc, ex);
  ex.late_clients = number<std::uint32_t>(doc, "late_clients", 0, u32_max);
  ex.late_join_round = number<std::uint32_t>(doc, "late_join_round", 1, 100000);
  if (ex.late_clients > 0 && fl::plain_fl(ex.clustering.method))
    throw config_error("config key 'late_clients' = " + std::to_string(ex.late_clients) +
                       ": late clients join a cluster, and clustering.method=none has none; register them as clients");
  if (ex.late_clients > 0 && ex.late_join_round > ex.rounds.cluster)
    throw config_error("config key 'late_join_round' = " + std::to_string(ex.late_join_round) +
                       " is after the last cluster round (rounds.cluster = " + std::to_string(ex.rounds.cluster) +
                       "); late clients arrive before a cluster round: 1 to rounds.cluster");
  check_strategy_fits(ex);
  ex.faults = read_faults(doc, ex);

  read_attack(doc, ex);
  read_devices(doc, ex);
  read_async(doc, ex);
  read_privacy(doc, ex);
  s.profiles = read_profiles(doc, ex.total_clients());
  read_runtime(doc, s.runtime);

  s.output.dir = text(doc, "output.dir");
  s.output.run_dir = text(doc, "output.run_dir");
  s.output.save_models = at(doc, "output.save_models").get<bool>();
  s.output.overwrite = at(doc, "output.overwrite").get<bool>();
  s.output.progress = one_of(doc, "output.progress", {"auto", "bar", "lines", "off"});
  return s;
}

} // namespace

void check_tls_files(const tls_options& tls, const std::string& prefix) {
  for (auto [name, path] :
       {std::pair<const char*, const std::string*>{"cert", &tls.cert}, {"key", &tls.key}, {"ca", &tls.ca}}) {
    if (path->empty())
      throw config_error("TLS needs all of " + prefix + "cert, " + prefix + "key and " + prefix + "ca; " + prefix + name +
                         " is missing (scripts/make-certs.sh makes a CA and node certificates)");
    // A PEM file is small and regular: never read a device or a pipe without bound.
    if (!is_small_regular_file(*path, 1u << 20))
      throw config_error(prefix + name + ": '" + *path + "' is not a PEM file of at most 1 MiB");
    std::ifstream in(*path);
    if (!in)
      throw config_error(prefix + name + ": cannot read '" + *path + "'");
    std::string first;
    std::getline(in, first);
    if (first.rfind("-----BEGIN", 0) != 0)
      throw config_error(prefix + name + ": '" + *path + "' is not a PEM file");
  }
}

} // namespace flotilla::config
