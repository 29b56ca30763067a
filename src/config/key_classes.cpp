#include "config/key_classes.hpp"

#include <vector>

#include "common/sha256.hpp"

#include "key_classes_json.hpp"

namespace flotilla::config {

namespace {

using json = nlohmann::json;

struct classes {
  std::vector<std::string> machine, resumable;
  json added; ///< key -> the default at which it changes nothing (runs written before it existed)
};

const classes& table() {
  static const classes c = [] {
    auto j = json::parse(key_classes_json);
    auto added = j.at("added");
    added.erase("_about");
    return classes{j.at("machine").get<std::vector<std::string>>(), j.at("resumable").get<std::vector<std::string>>(),
                   added};
  }();
  return c;
}

// A listed key, or a key under a listed prefix ("runtime" covers "runtime.tls.ca").
bool listed(const std::vector<std::string>& list, const std::string& key) {
  for (const auto& k : list)
    if (key == k || (key.size() > k.size() && key.compare(0, k.size(), k) == 0 && key[k.size()] == '.'))
      return true;
  return false;
}

json::json_pointer pointer_of(const std::string& dotted) {
  std::string p;
  for (char c : dotted)
    p += c == '.' ? '/' : c;
  return json::json_pointer("/" + p);
}

} // namespace

bool is_machine_key(const std::string& key) {
  return listed(table().machine, key);
}

bool is_resumable_key(const std::string& key) {
  return listed(table().resumable, key);
}

json experiment_part(const json& config) {
  auto out = config;
  for (const auto& k : table().machine) {
    auto ptr = pointer_of(k);
    if (out.contains(ptr))
      out[ptr.parent_pointer()].erase(ptr.back());
  }
  // A key added later, at the value older builds behaved as, leaves the identity as it was.
  for (const auto& [k, v] : table().added.items()) {
    auto ptr = pointer_of(k);
    if (out.contains(ptr) && out[ptr] == v)
      out[ptr.parent_pointer()].erase(ptr.back());
  }
  return out;
}

std::string run_id(const json& config, const std::string& data_fingerprint) {
  // The experiment's keys and the data it trains on; where the data lives and how this machine
  // runs it are no part of it, so a run resumes on another machine.
  auto text = experiment_part(config).dump() + "\n" + data_fingerprint;
  return sha256_hex(text.data(), text.size());
}

json with_machine_keys_of(const json& config, const json& local) {
  auto out = config;
  for (const auto& k : table().machine) {
    auto ptr = pointer_of(k);
    if (local.contains(ptr))
      out[ptr] = local[ptr];
    else if (out.contains(ptr))
      out[ptr.parent_pointer()].erase(ptr.back());
  }
  return out;
}

} // namespace flotilla::config
