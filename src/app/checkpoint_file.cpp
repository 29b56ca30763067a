#include "app/checkpoint_file.hpp"

#include "app/record_json.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "common/atomic_file.hpp"
#include "common/sha256.hpp"
#include "common/small_file.hpp"

namespace flotilla::app {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string magic = "FLOTILLA-CHECKPOINT\n";

// Named float buffers beside the JSON.
using blobs = std::map<std::string, std::vector<float>>;

json state_json(const fl::strategy_state& s, const std::string& prefix, blobs& b) {
  for (std::size_t i = 0; i < s.buffers.size(); ++i)
    b[prefix + "." + std::to_string(i)] = s.buffers[i];
  return {{"strategy", s.strategy}, {"steps", s.steps}, {"buffers", s.buffers.size()}};
}

fl::strategy_state state_from(const json& j, const std::string& prefix, const blobs& b) {
  fl::strategy_state s{j.at("strategy").get<std::string>(), j.at("steps").get<std::uint64_t>(), {}};
  for (std::size_t i = 0; i < j.at("buffers").get<std::size_t>(); ++i)
    s.buffers.push_back(b.at(prefix + "." + std::to_string(i)));
  return s;
}

json report_json(const fl::run_report& r, blobs& b) {
  b["report.initial_global"] = r.initial_global;
  // Records as their field lists write them (app/record_json.hpp), as in metrics.jsonl.
  json rounds = r.rounds;
  json scores = r.scores;
  json projection = json::array();
  for (const auto& [id, xy] : r.projection)
    projection.push_back({id, xy[0], xy[1]});
  json silhouette = json::array();
  for (const auto& [k, v] : r.silhouette)
    silhouette.push_back({k, v});
  json late = r.late_joins;
  json faults = r.faults;
  json aggregators = json::array();
  for (const auto& c : r.clusters)
    aggregators.push_back(c.aggregator_actor);
  return {{"initial_global_accuracy", r.initial_global_accuracy},
          {"rounds_to_target", r.rounds_to_target},
          {"sim_time_s", r.sim_time_s},
          {"sim_time_to_target_s", r.sim_time_to_target_s},
          {"initial_personalized", r.initial_personalized},
          {"scores", scores},
          {"projection", projection},
          {"clustering_method", r.clustering_method},
          {"k", r.k},
          {"silhouette", silhouette},
          {"late_joins", late},
          {"faults", faults},
          {"aggregators", aggregators},
          {"rounds", rounds},
          {"seconds", {r.initial_seconds, r.clustering_seconds, r.cluster_seconds}},
          {"samples_trained", r.samples_trained},
          {"samples_evaluated", r.samples_evaluated},
          {"bytes_moved", r.bytes_moved},
          {"warnings", r.warnings},
          {"epsilon", r.epsilon},
          {"privacy_rdp", r.privacy_rdp},
          {"dp_clip", r.dp_clip}};
}

fl::run_report report_from(const json& j, const blobs& b) {
  fl::run_report r;
  r.initial_global = b.at("report.initial_global");
  j.at("initial_global_accuracy").get_to(r.initial_global_accuracy);
  j.at("rounds_to_target").get_to(r.rounds_to_target);
  r.sim_time_s = j.value("sim_time_s", 0.0); // absent before clock=virtual existed
  r.sim_time_to_target_s = j.value("sim_time_to_target_s", -1.0);
  j.at("initial_personalized").get_to(r.initial_personalized);
  for (const auto& s : j.at("scores"))
    if (s.is_array()) // written before the field lists: positional
      r.scores.push_back({s.at(0).get<std::uint32_t>(), s.at(1).get<double>(), s.at(2).get<double>(),
                          s.at(3).get<double>(), s.at(4).get<double>(), s.at(5).get<std::uint64_t>(),
                          s.at(6).get<bool>(), s.at(7).get<double>(), s.at(8).get<double>()});
    else
      r.scores.push_back(s.get<fl::client_score>());
  for (const auto& p : j.at("projection"))
    r.projection[p[0].get<std::uint32_t>()] = {p[1].get<double>(), p[2].get<double>()};
  j.at("clustering_method").get_to(r.clustering_method);
  j.at("k").get_to(r.k);
  for (const auto& s : j.at("silhouette"))
    r.silhouette[s[0].get<std::uint32_t>()] = s[1].get<double>();
  j.at("late_joins").get_to(r.late_joins);
  j.at("faults").get_to(r.faults);
  for (const auto& a : j.at("aggregators")) {
    r.clusters.emplace_back();
    r.clusters.back().aggregator_actor = a.get<std::uint64_t>();
  }
  j.at("rounds").get_to(r.rounds);
  r.epsilon = j.value("epsilon", -1.0); // absent before privacy.dp existed
  if (j.contains("privacy_rdp"))
    j.at("privacy_rdp").get_to(r.privacy_rdp);
  r.dp_clip = j.value("dp_clip", 0.0); // absent before privacy.adaptive_clip existed
  const auto& s = j.at("seconds");
  r.initial_seconds = s.at(0).get<double>();
  r.clustering_seconds = s.at(1).get<double>();
  r.cluster_seconds = s.at(2).get<double>();
  j.at("samples_trained").get_to(r.samples_trained);
  j.at("samples_evaluated").get_to(r.samples_evaluated);
  j.at("bytes_moved").get_to(r.bytes_moved);
  j.at("warnings").get_to(r.warnings);
  return r;
}

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(v));
}

// Reads from the body with bounds checks; every failure is the file's damage.
struct reader {
  const std::string& bytes;
  std::size_t at;
  std::size_t end;
  std::string path;
  template <class T>
  T get() {
    T v;
    need(sizeof(v));
    std::memcpy(&v, bytes.data() + at, sizeof(v));
    at += sizeof(v);
    return v;
  }
  void need(std::size_t n) {
    if (n > end - at)
      throw checkpoint_error(path + ": truncated (it ends inside a field); the checkpoint is damaged");
  }
};

} // namespace

namespace {

// Each client's training samples. A fleet of a million registered clients, few of which have
// trained, is written as its size and the clients that did ({"size", "nonzero": [[id, n], ...]}):
// a million numbers of JSON per round would cost the round more than its aggregation.
json samples_json(const std::vector<std::uint64_t>& samples) {
  std::size_t nonzero = 0;
  for (auto n : samples)
    nonzero += n > 0;
  if (2 * nonzero >= samples.size())
    return samples;
  json pairs = json::array();
  for (std::size_t id = 0; id < samples.size(); ++id)
    if (samples[id] > 0)
      pairs.push_back({id, samples[id]});
  return json{{"size", samples.size()}, {"nonzero", pairs}};
}

// The most clients a sparse samples_of may claim (ten times data.users' largest): what it makes
// a reader allocate is bounded before the checkpoint's run is compared with the configuration.
constexpr std::uint64_t max_checkpoint_clients = 100'000'000;

std::vector<std::uint64_t> samples_from(const json& j, const std::string& path, std::uint64_t clients) {
  if (!j.is_object())
    return j.get<std::vector<std::uint64_t>>();
  auto size = j.at("size").get<std::uint64_t>();
  if (clients > 0 && size != clients)
    throw checkpoint_error(path + ": samples_of = " + std::to_string(size) + " entries: the run has " +
                           std::to_string(clients) + " clients; the checkpoint is damaged");
  if (size > max_checkpoint_clients)
    throw checkpoint_error(path + ": samples_of claims " + std::to_string(size) + " clients, more than " +
                           std::to_string(max_checkpoint_clients) + "; the checkpoint is damaged");
  std::vector<std::uint64_t> out(size, 0);
  for (const auto& p : j.at("nonzero")) {
    auto id = p.at(0).get<std::uint64_t>();
    if (id >= size)
      throw checkpoint_error(path + ": samples_of names client " + std::to_string(id) + " of " +
                             std::to_string(size) + "; the checkpoint is damaged");
    out[id] = p.at(1).get<std::uint64_t>();
  }
  return out;
}

} // namespace

void write_checkpoint(const std::string& run_dir, const std::string& run_id, const fl::checkpoint& cp) {
  blobs b;
  b["global"] = cp.global;
  json clusters = json::array();
  for (const auto& c : cp.clusters) {
    if (c.model)
      b["cluster." + std::to_string(c.id) + ".model"] = *c.model;
    json cluster_flights = json::array(), cluster_versions = json::array();
    for (const auto& f : c.async.flights)
      cluster_flights.push_back({f.client, f.version, f.done});
    for (const auto& [v, w] : c.async.versions) {
      b["cluster." + std::to_string(c.id) + ".async." + std::to_string(v)] = *w;
      cluster_versions.push_back(v);
    }
    clusters.push_back({{"id", c.id},
                        {"members", c.members},
                        {"server", c.server ? json(*c.server) : json(nullptr)},
                        {"last_server", c.last_server},
                        {"has_model", static_cast<bool>(c.model)},
                        {"state", state_json(c.state, "cluster." + std::to_string(c.id) + ".state", b)},
                        {"rounds_done", c.rounds_done},
                        {"term", c.term},
                        {"elections", c.elections},
                        {"failed", c.failed},
                        {"failure", c.failure},
                        {"created_round", c.created_round},
                        {"parent", c.parent},
                        {"sim_time_s", c.sim_time_s},
                        {"privacy_rdp", c.privacy_rdp},
                        {"dp_clip", c.dp_clip},
                        {"async", {{"flights", cluster_flights}, {"versions", cluster_versions},
                                   {"draws", c.async.draws}}}});
  }
  json clients = json::array();
  for (const auto& [id, c] : cp.clients)
    clients.push_back({{"id", id},
                       {"score", c.score ? json(*c.score) : json(nullptr)},
                       {"lost", c.lost},
                       {"lost_reason", c.lost_reason},
                       {"joined_round", c.joined_round},
                       {"cluster", c.cluster ? json(*c.cluster) : json(nullptr)}});
  json points = json::array();
  for (const auto& [id, p] : cp.points) {
    b["point." + std::to_string(id)] = p;
    points.push_back(id);
  }
  json flights = json::array();
  for (const auto& f : cp.flights)
    flights.push_back({f.client, f.version, f.done});
  json versions = json::array();
  for (const auto& [v, w] : cp.versions) {
    b["async.version." + std::to_string(v)] = w;
    versions.push_back(v);
  }
  json doc{{"run", run_id},
           {"phase", cp.phase},
           {"round", cp.round},
           {"strategy", state_json(cp.strategy, "strategy", b)},
           {"samples_of", samples_json(cp.samples_of)},
           {"clusters", clusters},
           {"clients", clients},
           {"lost_early", cp.lost_early},
           {"selected", cp.selected},
           {"late_joined", cp.late_joined},
           {"points", points},
           {"report", report_json(cp.report, b)},
           {"metrics_bytes", cp.metrics_bytes},
           {"async", {{"flights", flights}, {"versions", versions}, {"draws", cp.draws}}}};
  auto text = doc.dump();
  std::string out = magic;
  put(out, checkpoint_version);
  put(out, static_cast<std::uint64_t>(text.size()));
  out += text;
  put(out, static_cast<std::uint32_t>(b.size()));
  for (const auto& [name, v] : b) {
    put(out, static_cast<std::uint32_t>(name.size()));
    out += name;
    put(out, static_cast<std::uint64_t>(v.size()));
    out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  }
  sha256 h;
  h.update(out.data(), out.size());
  auto hex = h.hex_digest();
  for (std::size_t i = 0; i < 32; ++i)
    out.push_back(static_cast<char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16)));
  auto dir = fs::path(run_dir) / "checkpoint";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw output_error("cannot create " + dir.string() + ": " + ec.message());
  write_file_atomically((dir / "checkpoint.bin").string(), out);
  write_file_atomically((dir / "progress.json").string(),
                        json{{"phase", cp.phase}, {"round", cp.round}, {"version", checkpoint_version}}.dump() + "\n");
}

fl::checkpoint read_checkpoint(const std::string& run_dir, const std::string& run_id, std::uint64_t clients) {
  auto path = (fs::path(run_dir) / "checkpoint" / "checkpoint.bin").string();
  // A device, a FIFO or a directory in its place is refused before it is read (/dev/zero would
  // be read until memory ends, a FIFO block for ever); 64 GiB is far beyond any checkpoint.
  auto file = read_small_file(path, std::uintmax_t{64} << 30);
  if (file.status == small_file_status::missing)
    throw checkpoint_error(path + ": no checkpoint (a run writes one after its first round); nothing to resume");
  if (!file.ok())
    throw checkpoint_error(path + ": " + file.problem + "; the checkpoint is damaged and cannot be resumed");
  std::string bytes = std::move(file.bytes);
  if (bytes.size() < magic.size() + 4 + 8 + 4 + 32 || bytes.compare(0, magic.size(), magic) != 0)
    throw checkpoint_error(path + ": not a Flotilla checkpoint");
  auto body = bytes.size() - 32;
  sha256 h;
  h.update(bytes.data(), body);
  auto hex = h.hex_digest();
  for (std::size_t i = 0; i < 32; ++i)
    if (static_cast<unsigned char>(bytes[body + i]) != std::stoi(hex.substr(2 * i, 2), nullptr, 16))
      throw checkpoint_error(path + ": checksum mismatch; the checkpoint is damaged and cannot be resumed");
  reader r{bytes, magic.size(), body, path};
  auto version = r.get<std::uint32_t>();
  if (version < oldest_checkpoint_version || version > checkpoint_version)
    throw checkpoint_error(path + ": format version " + std::to_string(version) + ", this build reads versions " +
                           std::to_string(oldest_checkpoint_version) + " to " + std::to_string(checkpoint_version) +
                           "; resume it with the Flotilla that wrote it");
  auto n = r.get<std::uint64_t>();
  r.need(n);
  json doc;
  try {
    doc = json::parse(bytes.substr(r.at, n));
  } catch (const json::exception& e) {
    throw checkpoint_error(path + ": damaged (" + e.what() + ")");
  }
  r.at += n;
  if (doc.value("run", std::string{}) != run_id)
    throw checkpoint_error(path + ": it belongs to another run (its configuration differs from " + run_dir +
                           "/config.json, or the data differs from the files it trained on, or its model file or "
                           "devices.file is another); resume the directory it was written in, with the same data and "
                           "files (data.root may point to another copy)");
  blobs b;
  auto count = r.get<std::uint32_t>();
  for (std::uint32_t i = 0; i < count; ++i) {
    auto len = r.get<std::uint32_t>();
    r.need(len);
    auto name = bytes.substr(r.at, len);
    r.at += len;
    auto floats = r.get<std::uint64_t>();
    if (floats > (r.end - r.at) / sizeof(float))
      throw checkpoint_error(path + ": truncated (it ends inside a field); the checkpoint is damaged");
    std::vector<float> v(floats);
    std::memcpy(v.data(), bytes.data() + r.at, floats * sizeof(float));
    r.at += floats * sizeof(float);
    b[name] = std::move(v);
  }
  try {
    fl::checkpoint cp;
    doc.at("phase").get_to(cp.phase);
    doc.at("round").get_to(cp.round);
    cp.global = b.at("global");
    cp.strategy = state_from(doc.at("strategy"), "strategy", b);
    cp.samples_of = samples_from(doc.at("samples_of"), path, clients);
    for (const auto& c : doc.at("clusters")) {
      fl::cluster_record x;
      c.at("id").get_to(x.id);
      c.at("members").get_to(x.members);
      if (!c.at("server").is_null())
        x.server = c.at("server").get<std::uint32_t>();
      c.at("last_server").get_to(x.last_server);
      if (c.at("has_model").get<bool>())
        x.model = std::make_shared<const std::vector<float>>(b.at("cluster." + std::to_string(x.id) + ".model"));
      x.state = state_from(c.at("state"), "cluster." + std::to_string(x.id) + ".state", b);
      c.at("rounds_done").get_to(x.rounds_done);
      c.at("term").get_to(x.term);
      c.at("elections").get_to(x.elections);
      c.at("failed").get_to(x.failed);
      c.at("failure").get_to(x.failure);
      c.at("created_round").get_to(x.created_round);
      c.at("parent").get_to(x.parent);
      x.sim_time_s = c.value("sim_time_s", 0.0); // absent before clock=virtual existed
      if (c.contains("privacy_rdp"))               // absent before DP at the cluster servers
        c.at("privacy_rdp").get_to(x.privacy_rdp);
      x.dp_clip = c.value("dp_clip", 0.0); // absent before privacy.adaptive_clip existed
      if (version >= 3) {
        const auto& a = c.at("async");
        for (const auto& f : a.at("flights"))
          x.async.flights.push_back(
            {f.at(0).get<std::uint32_t>(), f.at(1).get<std::uint64_t>(), f.at(2).get<double>()});
        for (const auto& v : a.at("versions"))
          x.async.versions[v.get<std::uint64_t>()] = std::make_shared<const std::vector<float>>(
            b.at("cluster." + std::to_string(x.id) + ".async." + std::to_string(v.get<std::uint64_t>())));
        a.at("draws").get_to(x.async.draws);
      }
      cp.clusters.push_back(std::move(x));
    }
    for (const auto& c : doc.at("clients")) {
      fl::client_record x;
      if (!c.at("score").is_null())
        x.score = c.at("score").get<double>();
      c.at("lost").get_to(x.lost);
      c.at("lost_reason").get_to(x.lost_reason);
      c.at("joined_round").get_to(x.joined_round);
      if (!c.at("cluster").is_null())
        x.cluster = c.at("cluster").get<std::uint32_t>();
      cp.clients[c.at("id").get<std::uint32_t>()] = x;
    }
    if (version >= 2) // version 1 did not record it (see checkpoint_version)
      doc.at("lost_early").get_to(cp.lost_early);
    doc.at("selected").get_to(cp.selected);
    doc.at("late_joined").get_to(cp.late_joined);
    for (const auto& id : doc.at("points"))
      cp.points[id.get<std::uint32_t>()] = b.at("point." + std::to_string(id.get<std::uint32_t>()));
    cp.report = report_from(doc.at("report"), b);
    doc.at("metrics_bytes").get_to(cp.metrics_bytes);
    if (version >= 3) {
      const auto& a = doc.at("async");
      for (const auto& f : a.at("flights"))
        cp.flights.push_back({f.at(0).get<std::uint32_t>(), f.at(1).get<std::uint64_t>(), f.at(2).get<double>()});
      for (const auto& v : a.at("versions"))
        cp.versions[v.get<std::uint64_t>()] = b.at("async.version." + std::to_string(v.get<std::uint64_t>()));
      a.at("draws").get_to(cp.draws);
    }
    return cp;
  } catch (const std::out_of_range& e) {
    throw checkpoint_error(path + ": a field is missing (" + e.what() + "); the checkpoint is damaged");
  } catch (const json::exception& e) {
    throw checkpoint_error(path + ": a field is malformed (" + e.what() + "); the checkpoint is damaged");
  }
}

} // namespace flotilla::app
