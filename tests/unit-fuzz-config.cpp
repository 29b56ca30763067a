// Hostile configuration: random and mutated documents, values and `key=value` overrides through
// resolve_config, apply_override and settings_from. Each must give settings or a config_error:
// never another exception type, never a crash, never a hang. Seeds are fixed; the whole file
// runs in a few seconds. Inputs that could crash the process (deep nesting) or block it
// (special files as TLS paths) run in a forked child, so a crash is reported, not suffered.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <algorithm>
#include <random>
#include <sstream>

#include "config/config.hpp"
#include "config/settings.hpp"
#include "child_process.hpp"
#include "fixtures.hpp"

using namespace flotilla;
using json = nlohmann::json;

namespace {

// JSON text of `v` even when a string in it is not UTF-8 (the tests' own printing must not throw).
std::string show(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The outcome of one input: settings, a config_error, or a failure (anything else).
struct outcome {
  bool accepted = false;
  bool refused = false;
  std::string failure; ///< empty unless something other than config_error escaped
};

template <class F>
outcome attempt(F&& f) {
  outcome out;
  try {
    f();
    out.accepted = true;
  } catch (const config::config_error&) {
    out.refused = true;
  } catch (const std::exception& e) {
    out.failure = std::string("unexpected exception: ") + e.what();
  } catch (...) {
    out.failure = "unexpected non-standard exception";
  }
  return out;
}

// What resolve_config (with a file) and then settings_from do with `doc`.
outcome through_file(const test::temp_dir& dir, const std::string& text) {
  auto path = dir.file("fuzz.json");
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
  }
  return attempt([&] { config::settings_from(config::resolve_config(path, {})); });
}

// resolve_config with overrides only, then settings_from.
outcome through_overrides(const std::vector<std::string>& overrides) {
  return attempt([&] { config::settings_from(config::resolve_config("", overrides)); });
}

// A node's path (runtime/node.cpp setup): the coordinator's document as received, through
// node_config, then settings_from.
outcome through_node(const json& received) {
  return attempt([&] { config::settings_from(config::node_config(json::parse(show(received)), {})); });
}

std::size_t pick(std::mt19937_64& rng, std::size_t n) {
  return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
}

const std::vector<std::string>& hostile_strings() {
  static const std::vector<std::string> v = {
    "", " ", "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999", "-1e999", "0x10", "1e-999", "+1", "01",
    "auto", "AUTO", "null", "true", "false", "[]", "{}", "[", "{", "\"", "\\", ",", ",,", "=", "a=b", "..", "../x",
    "/", "/etc/passwd", "x:0", "x:65536", "x:99999", ":1", "127.0.0.1:", "h:4242", "[::1]:1", "server:", "server:0",
    "server:99999999999999", "crash", "hang", "slow", "initial", "cluster", "kmeans", "cfl", "ifca", "fedavg",
    "mnist", "cifar10", "cnn", "cifar_cnn", "iid", "rotated", "round_robin", "block", "off", "bar",
    std::string(1, '\0'), "\xff\xfe", "\xc3\x28", "\xe2\x82\xac", std::string(10000, 'a'), std::string(300, '['),
  };
  return v;
}

json random_number(std::mt19937_64& rng) {
  switch (pick(rng, 18)) {
    case 0: return 0;
    case 1: return -1;
    case 2: return 1;
    case 3: return std::numeric_limits<std::int64_t>::max();
    case 4: return std::numeric_limits<std::int64_t>::min();
    case 5: return std::numeric_limits<std::uint64_t>::max();
    case 6: return std::uint64_t{1} << 32;
    case 7: return (std::uint64_t{1} << 53) + 1;
    case 8: return 1e308;
    case 9: return -1e308;
    case 10: return 9.3e18; // just above int64's range
    case 11: return 1.8446744073709552e19;
    case 12: return 0.5;
    case 13: return -0.0;
    case 14: return 5e-324;
    case 15: return static_cast<std::int64_t>(rng() >> pick(rng, 64));
    case 16: return std::uniform_real_distribution<double>(-1e6, 1e6)(rng);
    default: return static_cast<double>(static_cast<std::int64_t>(rng() % 2000) - 1000);
  }
}

json random_value(std::mt19937_64& rng, int depth) {
  auto kind = pick(rng, depth > 0 ? 7 : 5);
  switch (kind) {
    case 0: return nullptr;
    case 1: return static_cast<bool>(rng() & 1);
    case 2:
    case 3: return random_number(rng);
    case 4: return hostile_strings()[pick(rng, hostile_strings().size())];
    case 5: {
      auto a = json::array();
      for (std::size_t i = 0, n = pick(rng, 5); i < n; ++i)
        a.push_back(random_value(rng, depth - 1));
      return a;
    }
    default: {
      auto o = json::object();
      static const std::vector<std::string> keys = {"target", "kind", "phase", "round", "seconds", "clients",
                                                   "cpu", "mem", "k", "x", "", "clients.x"};
      for (std::size_t i = 0, n = pick(rng, 5); i < n; ++i)
        o[keys[pick(rng, keys.size())]] = random_value(rng, depth - 1);
      return o;
    }
  }
}

// The default document with `key` (dotted) set to `value`.
json with_value(const std::string& key, const json& value) {
  json patch = value;
  std::vector<std::string> parts;
  std::stringstream in(key);
  std::string part;
  while (std::getline(in, part, '.'))
    parts.push_back(part);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it)
    patch = json{{*it, patch}};
  return patch;
}

// A value nested `depth` levels deep: [[[...]]] or {"a":{"a":...}}.
std::string nested_text(std::size_t depth, bool objects) {
  std::string s;
  s.reserve(depth * 6 + 2);
  for (std::size_t i = 0; i < depth; ++i)
    s += objects ? "{\"a\":" : "[";
  s += "1";
  for (std::size_t i = 0; i < depth; ++i)
    s += objects ? "}" : "]";
  return s;
}

// in_child with this file's outcome: "" unless the child failed, crashed, hung or took more
// than 256 MiB (the address space stops at 2 GiB, where a runaway read ends in bad_alloc).
template <class F>
std::string in_child(F&& f, int seconds = 10) {
  return test::in_child([&] { return f().failure; }, seconds, std::size_t{2} << 30, std::size_t{256} << 20);
}

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

} // namespace

TEST_CASE("every known key takes every kind of JSON value without an exception other than config_error") {
  auto keys = config::dotted_keys(config::default_config());
  REQUIRE(keys.size() > 50);
  std::vector<json> values = {nullptr, true, false, 0, 1, -1, 2, 3, 42, 0.5, -0.5, 1.0, 1e-300, 5e-324, 1e308, -1e308,
                              std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min(),
                              std::numeric_limits<std::uint64_t>::max(), std::uint64_t{1} << 32,
                              (std::uint64_t{1} << 53) + 1, 9.3e18, -9.3e18, 1.8446744073709552e19, 4294967296.0,
                              json::array(), json::array({1}), json::array({json::array()}), json::array({-1, 1e308}),
                              json::array({"x"}), json::object(), json{{"a", 1}}, json{{"clients", json::array({0})}}};
  for (const auto& s : hostile_strings())
    values.push_back(s);
  auto start = clock_type::now();
  std::size_t cases = 0, accepted = 0;
  for (const auto& key : keys) {
    for (const auto& v : values) {
      auto patch = with_value(key, v);
      auto o = attempt([&] {
        auto doc = config::default_config();
        config::merge_into(doc, patch);
        config::settings_from(doc);
      });
      ++cases;
      accepted += o.accepted;
      if (!o.failure.empty())
        FAIL_CHECK(key << " = " << show(v).substr(0, 80) << ": " << o.failure);
      // And the same value as override text, as `flotilla run key=value` would pass it.
      auto text = v.is_string() ? v.get<std::string>() : show(v);
      auto t = through_overrides({key + "=" + text});
      ++cases;
      if (!t.failure.empty())
        FAIL_CHECK(key << "=" << text.substr(0, 80) << ": " << t.failure);
    }
  }
  MESSAGE(cases << " key/value cases, " << accepted << " accepted, " << seconds_since(start) << " s");
  CHECK(seconds_since(start) < 5.0);
}

TEST_CASE("random documents from a file give settings or a config_error") {
  test::temp_dir dir;
  std::mt19937_64 rng(20261127);
  auto keys = config::dotted_keys(config::default_config());
  auto start = clock_type::now();
  std::size_t accepted = 0, n = 1500;
  for (std::size_t i = 0; i < n; ++i) {
    json doc;
    std::string what;
    switch (i % 4) {
      case 0: // anything at all, even not an object
        doc = random_value(rng, 4);
        what = "random";
        break;
      case 1: // a few known keys with random values
      case 2:
        doc = json::object();
        for (std::size_t k = 0, m = 1 + pick(rng, 4); k < m; ++k) {
          auto patch = with_value(keys[pick(rng, keys.size())], random_value(rng, 3));
          doc.merge_patch(patch);
        }
        what = "known keys";
        break;
      default: // known keys with an unknown one among them, or an object where a scalar goes
        doc = with_value(keys[pick(rng, keys.size())], json{{"x", random_value(rng, 2)}});
        doc["no_such_key_" + std::to_string(pick(rng, 3))] = random_value(rng, 1);
        what = "unknown keys";
        break;
    }
    auto text = show(doc);
    // Mutate the text sometimes: truncated, a byte flipped, garbage appended.
    if (i % 7 == 3 && !text.empty())
      text.resize(pick(rng, text.size()));
    if (i % 11 == 5 && !text.empty())
      text[pick(rng, text.size())] = static_cast<char>(rng());
    auto o = through_file(dir, text);
    accepted += o.accepted;
    if (!o.failure.empty())
      FAIL_CHECK(what << " document " << text.substr(0, 160) << ": " << o.failure);
  }
  MESSAGE(n << " documents, " << accepted << " accepted, " << seconds_since(start) << " s");
  CHECK(seconds_since(start) < 5.0);
}

TEST_CASE("random key=value overrides give settings or a config_error") {
  std::mt19937_64 rng(7);
  auto keys = config::dotted_keys(config::default_config());
  std::vector<std::string> odd_keys = {"", " ", ".", "..", "clients.", ".clients", "clients..x", "runtime..tls",
                                       "runtime.tls", "runtime", "data", "runtime.tls.cert.x", "clients.x",
                                       "CLIENTS", "client", "rounds.inital", std::string(5000, 'k'),
                                       std::string(200, '.'), "selection.profiles.0", "faults[0]"};
  auto start = clock_type::now();
  std::size_t accepted = 0, n = 4000;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::string> overrides;
    for (std::size_t k = 0, m = 1 + pick(rng, 3); k < m; ++k) {
      std::string key = pick(rng, 5) == 0 ? odd_keys[pick(rng, odd_keys.size())] : keys[pick(rng, keys.size())];
      std::string value;
      switch (pick(rng, 4)) {
        case 0: value = hostile_strings()[pick(rng, hostile_strings().size())]; break;
        case 1: value = show(random_value(rng, 3)); break;
        case 2: { // a comma list of odd items
          for (std::size_t j = 0, c = pick(rng, 4); j < c; ++j)
            value += (j ? "," : "") + show(random_value(rng, 1));
          break;
        }
        default: { // random printable bytes
          for (std::size_t j = 0, c = pick(rng, 20); j < c; ++j)
            value += static_cast<char>(32 + pick(rng, 95));
        }
      }
      std::string sep = pick(rng, 10) == 0 ? "" : pick(rng, 10) == 0 ? " = " : "=";
      overrides.push_back(key + sep + value);
    }
    auto o = through_overrides(overrides);
    accepted += o.accepted;
    if (!o.failure.empty()) {
      std::string all;
      for (auto& x : overrides)
        all += " '" + x.substr(0, 80) + "'";
      FAIL_CHECK("overrides" << all << ": " << o.failure);
    }
  }
  MESSAGE(n << " override sets, " << accepted << " accepted, " << seconds_since(start) << " s");
  CHECK(seconds_since(start) < 5.0);
}

TEST_CASE("a node refuses a received document with keys missing or retyped with a config_error") {
  // The node takes the coordinator's resolved document as it comes (no merge over defaults):
  // a peer of another version, or a hostile one, may send anything.
  std::mt19937_64 rng(99);
  auto keys = config::dotted_keys(config::default_config());
  std::size_t n = 600, failures = 0;
  std::string first_failure;
  for (std::size_t i = 0; i < n; ++i) {
    auto doc = config::default_config();
    auto key = keys[pick(rng, keys.size())];
    std::string pointer = "/" + key;
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    auto ptr = json::json_pointer(pointer);
    std::string what;
    if (i % 3 == 0) {
      doc.at(ptr.parent_pointer()).erase(ptr.back());
      what = "without " + key;
    } else {
      doc[ptr] = random_value(rng, 2);
      what = key + " = " + show(doc[ptr]).substr(0, 60);
    }
    auto o = through_node(doc);
    if (!o.failure.empty() && failures++ == 0)
      first_failure = what + ": " + o.failure;
  }
  CHECK_MESSAGE(failures == 0, failures << " of " << n << " received documents escaped as another exception; first: "
                                        << first_failure);
}

TEST_CASE("a value that is not UTF-8 is refused with a config_error") {
  // nlohmann's dump() throws type_error.316 on such strings; an error message that quotes the
  // value must not turn a configuration error into another exception.
  for (std::string bad : {"\xff", "\xc3\x28", "a\x80b"}) {
    for (std::string key : {"clients", "train.lr", "runtime.nodes", "attack.clients", "output.save_models",
                            "rounds.stop_at_target", "faults", "selection.profiles", "partition.scheme"}) {
      auto o = through_overrides({key + "=" + bad});
      CHECK_MESSAGE(o.failure.empty(), key << "=<" << show(json(bad)) << ">: " << o.failure);
      auto quoted = through_overrides({key + "=[\"" + bad + "\"]"});
      CHECK_MESSAGE(quoted.failure.empty(), key << "=[\"<" << show(json(bad)) << ">\"]: " << quoted.failure);
    }
  }
}

// `doc` as text with the value at dotted `key` replaced by `value_text` (which may be JSON no
// json object could hold without recursing).
std::string with_text_at(json doc, const std::string& key, const std::string& value_text) {
  std::string pointer = "/" + key;
  std::replace(pointer.begin(), pointer.end(), '.', '/');
  const std::string mark = "@@value@@";
  doc[json::json_pointer(pointer)] = mark;
  auto text = show(doc);
  text.replace(text.find("\"" + mark + "\""), mark.size() + 2, value_text);
  return text;
}

TEST_CASE("deeply nested values are refused, not a crash") {
  // A config file, an override and a document received by a node, each with one value nested
  // ever deeper (100,000 levels are 200 KB of text): code that recurses per level (nlohmann's
  // dump() in an error message, its copy) runs out of stack.
  test::temp_dir dir;
  for (std::size_t depth : {10u, 1000u, 100000u}) {
    for (bool objects : {false, true}) {
      auto nested = nested_text(depth, objects);
      for (std::string key : {"clients", "attack.clients", "runtime.nodes", "faults", "selection.profiles", "name"}) {
        CAPTURE(depth);
        CAPTURE(objects);
        CAPTURE(key);
        auto file_text = with_text_at(json::object(), key, nested);
        auto file_result = in_child([&] { return through_file(dir, file_text); });
        CHECK_MESSAGE(file_result.empty(), "config file with " << key << " nested " << depth << " deep: " << file_result);
        auto override_result = in_child([&] { return through_overrides({key + "=" + nested}); });
        CHECK_MESSAGE(override_result.empty(), "override " << key << "=<nested " << depth << " deep>: " << override_result);
        // As runtime/node.cpp setup() does it, catching what it catches: only a crash counts here
        // (which exception type escapes is the business of the test case above).
        auto received = with_text_at(config::default_config(), key, nested);
        auto node_result = in_child([&] {
          try {
            auto doc = json::parse(received);
            config::apply_override(doc, "data.root=");
            config::settings_from(doc);
          } catch (const std::exception&) {
          }
          return outcome{};
        });
        CHECK_MESSAGE(node_result.empty(), "node setup with " << key << " nested " << depth << " deep: " << node_result);
      }
    }
  }
}

TEST_CASE("TLS paths that are not regular files are refused promptly") {
  // settings_from reads the first line of each TLS file: a device without newlines must not
  // make it read until memory runs out, nor a FIFO block it.
  test::temp_dir dir;
  auto fifo = dir.file("fifo.pem");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  for (std::string path : {"/dev/zero", "/dev/urandom", fifo.c_str(), "/proc/self/mem", "/", dir.path().c_str()}) {
    CAPTURE(path);
    auto result = in_child(
      [&] {
        return through_overrides({"runtime.tls.cert=" + path, "runtime.tls.key=" + path, "runtime.tls.ca=" + path});
      },
      3);
    CHECK_MESSAGE(result.empty(), "runtime.tls.*=" << path << ": " << result);
  }
}
