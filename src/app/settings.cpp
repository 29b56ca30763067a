#include "app/settings.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "app/config.hpp"
#include "model/model_spec.hpp"

namespace flotilla::app {

using json = nlohmann::json;

namespace {

const json& at(const json& config, const std::string& dotted) {
  const json* node = &config;
  std::stringstream parts(dotted);
  std::string part;
  while (std::getline(parts, part, '.'))
    node = &node->at(part);
  return *node;
}

template <class T>
T number(const json& config, const std::string& key, T min, T max) {
  auto v = at(config, key).get<double>();
  if (v < static_cast<double>(min) || v > static_cast<double>(max)) {
    std::ostringstream msg;
    msg << "config key '" << key << "' = " << at(config, key).dump() << " is out of range; allowed: "
        << min << " to " << max;
    throw config_error(msg.str());
  }
  return static_cast<T>(v);
}

std::string one_of(const json& config, const std::string& key, const std::vector<std::string>& allowed) {
  auto v = at(config, key).get<std::string>();
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed)
      list += (list.empty() ? "" : ", ") + a;
    throw config_error("config key '" + key + "' = \"" + v + "\" is not allowed; allowed: " + list);
  }
  return v;
}

constexpr auto u32_max = std::uint32_t{1000000};

} // namespace

settings settings_from(const json& config) {
  settings s;
  s.name = at(config, "name").get<std::string>();
  s.seed = number<std::uint64_t>(config, "seed", 0, (std::uint64_t{1} << 53));
  s.clients = number<std::uint32_t>(config, "clients", 1, u32_max);

  s.data.dataset = one_of(config, "data.dataset", data::dataset_names());
  s.data.root = at(config, "data.root").get<std::string>();
  s.data.train_limit = number<std::size_t>(config, "data.train_limit", 0, 100000000);

  s.partition.scheme = one_of(config, "partition.scheme", data::partition_schemes());
  s.partition.alpha = number<double>(config, "partition.alpha", 1e-3, 1e6);
  s.partition.shards_per_client = number<std::uint32_t>(config, "partition.shards_per_client", 1, 1000);
  s.partition.groups = number<std::uint32_t>(config, "partition.groups", 1, 360);
  s.partition.local_test_fraction = number<double>(config, "partition.local_test_fraction", 0.01, 0.9);

  s.model = one_of(config, "model.name", model::model_names());
  bool color = s.data.dataset == "cifar10", color_model = s.model == "cifar_cnn";
  if (color != color_model)
    throw config_error("model.name=" + s.model + " does not fit data.dataset=" + s.data.dataset +
                       "; use " + (color ? "cifar_cnn for cifar10" : "cnn or mcmahan_cnn for " + s.data.dataset));

  s.model_init = at(config, "model.init").get<std::string>();

  s.train.epochs = number<std::uint32_t>(config, "train.epochs", 1, 1000);
  s.train.batch_size = number<std::uint32_t>(config, "train.batch_size", 1, 65536);
  s.train.lr = number<double>(config, "train.lr", 1e-9, 10);
  s.train.momentum = number<double>(config, "train.momentum", 0, 0.999);
  s.train.weight_decay = number<double>(config, "train.weight_decay", 0, 1);

  s.rounds.initial = number<std::uint32_t>(config, "rounds.initial", 1, 100000);
  s.rounds.cluster = number<std::uint32_t>(config, "rounds.cluster", 0, 100000);
  s.rounds.fraction_fit = number<double>(config, "rounds.fraction_fit", 1e-6, 1);
  s.rounds.quorum = number<double>(config, "rounds.quorum", 0, 1);
  s.rounds.timeout_s = number<double>(config, "rounds.timeout_s", 0.01, 86400);

  s.clustering.k = number<std::uint32_t>(config, "clustering.k", 1, u32_max);
  if (s.clustering.k > s.clients)
    throw config_error("config key 'clustering.k' = " + std::to_string(s.clustering.k) +
                       " is more than clients = " + std::to_string(s.clients) +
                       "; allowed: 1 to the number of clients");
  s.clustering.restarts = number<std::uint32_t>(config, "clustering.restarts", 1, 1000);
  s.clustering.max_iterations = number<std::uint32_t>(config, "clustering.max_iterations", 1, 100000);
  s.clustering.sketch_dim = number<std::uint32_t>(config, "clustering.sketch_dim", 0, 1 << 24);

  for (const auto& p : at(config, "selection.profiles")) {
    if (!p.is_object())
      throw config_error("selection.profiles: each entry must be an object like "
                         "{\"clients\": [0, 1], \"cpu\": 50, \"mem\": 20}");
    device_profile profile;
    for (auto it = p.begin(); it != p.end(); ++it) {
      const auto& k = it.key();
      if (k == "clients" && it->is_array()) {
        for (const auto& c : *it) {
          if (!c.is_number_unsigned() || c.get<std::uint32_t>() >= s.clients)
            throw config_error("selection.profiles: client " + c.dump() + " is not a client id "
                               "(0 to clients-1)");
          profile.clients.push_back(c.get<std::uint32_t>());
        }
      } else if ((k == "cpu" || k == "mem") && it->is_number() && it->get<double>() >= 0 &&
                 it->get<double>() <= 100) {
        (k == "cpu" ? profile.cpu : profile.mem) = it->get<double>();
      } else {
        throw config_error("selection.profiles: '" + k + "': " + it->dump() +
                           " is not allowed; entries take clients (a list of ids), cpu and mem "
                           "(percent, 0 to 100)");
      }
    }
    s.profiles.push_back(profile);
  }

  s.runtime.trainers = number<std::uint32_t>(config, "runtime.trainers", 0, 1024);
  s.runtime.scheduler_threads = number<std::uint32_t>(config, "runtime.scheduler_threads", 0, 1024);
  for (const auto& n : at(config, "runtime.nodes")) {
    if (!n.is_string() || n.get<std::string>().find(':') == std::string::npos)
      throw config_error("runtime.nodes: " + n.dump() + " is not host:port");
    s.runtime.nodes.push_back(n.get<std::string>());
  }
  s.runtime.placement = one_of(config, "runtime.placement", {"round_robin", "block"});
  s.runtime.heartbeat_s = number<double>(config, "runtime.heartbeat_s", 0, 3600);
  s.runtime.connection_timeout_s = number<double>(config, "runtime.connection_timeout_s", 1, 86400);
  s.runtime.connect_attempts = number<std::uint32_t>(config, "runtime.connect_attempts", 1, 1000);
  s.runtime.tls.cert = at(config, "runtime.tls.cert").get<std::string>();
  s.runtime.tls.key = at(config, "runtime.tls.key").get<std::string>();
  s.runtime.tls.ca = at(config, "runtime.tls.ca").get<std::string>();
  if (s.runtime.tls.enabled())
    check_tls_files(s.runtime.tls, "runtime.tls.");

  s.output.dir = at(config, "output.dir").get<std::string>();
  s.output.run_dir = at(config, "output.run_dir").get<std::string>();
  s.output.save_models = at(config, "output.save_models").get<bool>();
  s.output.progress = one_of(config, "output.progress", {"auto", "bar", "lines", "off"});
  return s;
}

void check_tls_files(const tls_settings& tls, const std::string& prefix) {
  for (auto [name, path] : {std::pair<const char*, const std::string*>{"cert", &tls.cert}, {"key", &tls.key}, {"ca", &tls.ca}}) {
    if (path->empty())
      throw config_error("TLS needs all of " + prefix + "cert, " + prefix + "key and " + prefix + "ca; " + prefix +
                         name + " is missing (scripts/make-certs.sh makes a CA and node certificates)");
    std::ifstream in(*path);
    if (!in)
      throw config_error(prefix + name + ": cannot read '" + *path + "'");
    std::string first;
    std::getline(in, first);
    if (first.rfind("-----BEGIN", 0) != 0)
      throw config_error(prefix + name + ": '" + *path + "' is not a PEM file");
  }
}

} // namespace flotilla::app
