// 6.6 MB echo round trips to one actor, four ways at once: CAF direct and through the guard,
// plain TCP and mutual TLS. Rounds interleave the four so load from other processes hits all
// of them alike. Usage: guard_round_trip [rounds=6] [per_round=5]
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <algorithm>
#include <memory>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <string>
#include <vector>

#include "net/guard.hpp"

namespace {

// Nanoseconds on CPU of this process's guard threads (named flotilla-guard), from schedstat.
double guard_cpu_ms() {
  double ns = 0;
  for (auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name != "flotilla-guard")
      continue;
    std::ifstream stat(task.path() / "schedstat");
    double on_cpu = 0;
    stat >> on_cpu;
    ns += on_cpu;
  }
  return ns / 1e6;
}

struct config : caf::actor_system_config {
  config(const std::string& dir, const std::string& name) {
    load<caf::io::middleman>();
    load<caf::openssl::manager>();
    set("openssl.certificate", dir + "/" + name + ".pem");
    set("openssl.key", dir + "/" + name + ".key");
    set("openssl.cafile", dir + "/ca.pem");
    set("scheduler.max-threads", std::size_t{2});
    set("logger.console", caf::atom("none"));
  }
};

double once(caf::actor_system& sys, const caf::actor& remote, const std::vector<char>& blob) {
  caf::scoped_actor self{sys};
  auto start = std::chrono::steady_clock::now();
  bool ok = false;
  self->request(remote, std::chrono::seconds(30), blob)
    .receive([&](const std::vector<char>& back) { ok = back.size() == blob.size(); }, [](caf::error&) {});
  if (!ok) {
    std::fprintf(stderr, "guard_round_trip: an echo failed\n");
    std::exit(1);
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 6;
  int per_round = argc > 2 ? std::atoi(argv[2]) : 5;
  auto dir = (std::filesystem::temp_directory_path() / ("guard-bench-" + std::to_string(::getpid()))).string();
  auto script = std::string(FLOTILLA_SOURCE_DIR) + "/scripts/make-certs.sh";
  if (std::system(("bash " + script + " " + dir + " node client >/dev/null").c_str()) != 0)
    return 1;
  config server_cfg{dir, std::string("node")};
  caf::actor_system server{server_cfg};
  // One client system per way: CAF keeps one connection per pair of nodes and drops later
  // ones as redundant, so a shared client would send everything over its first connection.
  std::vector<std::unique_ptr<config>> client_cfgs;
  std::vector<std::unique_ptr<caf::actor_system>> clients;
  for (int i = 0; i < 4; ++i) {
    client_cfgs.push_back(std::make_unique<config>(dir, std::string("client")));
    clients.push_back(std::make_unique<caf::actor_system>(*client_cfgs.back()));
  }
  auto echo = server.spawn([]() -> caf::behavior { return {[](const std::vector<char>& b) { return b; }}; });
  auto plain_port = server.middleman().publish(echo, 0, "127.0.0.1");
  auto tls_port = caf::openssl::publish(echo, 0, "127.0.0.1");
  flotilla::net::guard_options plain_opts, tls_opts;
  // The echo carries a raw std::vector<char> (@charbuf), which Flotilla's allowlist refuses
  // (CAF sizes it before reading it); this benchmark's peers are its own, so it lets it through.
  plain_opts.message_types.allow_opaque("@charbuf");
  tls_opts.message_types.allow_opaque("@charbuf");
  if (argc > 3)
    plain_opts.relay_buffer_bytes = tls_opts.relay_buffer_bytes = std::strtoul(argv[3], nullptr, 10);
  tls_opts.cert = dir + "/node.pem";
  tls_opts.key = dir + "/node.key";
  tls_opts.ca = dir + "/ca.pem";
  auto plain_guard = flotilla::net::guard::start(server, echo, plain_opts);
  auto tls_guard = flotilla::net::guard::start(server, echo, tls_opts);
  struct way {
    const char* name;
    caf::actor_system& client;
    caf::expected<caf::actor> remote;
    std::vector<double> ms;
    double guard_ms = 0;
  };
  std::vector<way> ways{
    {"plain, CAF direct", *clients[0], clients[0]->middleman().remote_actor("127.0.0.1", *plain_port), {}},
    {"plain, through the guard", *clients[1], clients[1]->middleman().remote_actor("127.0.0.1", plain_guard->port()), {}},
    {"TLS, CAF direct", *clients[2], caf::openssl::remote_actor(*clients[2], "127.0.0.1", *tls_port), {}},
    {"TLS, through the guard", *clients[3], caf::openssl::remote_actor(*clients[3], "127.0.0.1", tls_guard->port()), {}},
  };
  for (auto& w : ways)
    if (!w.remote) {
      std::fprintf(stderr, "guard_round_trip: %s: cannot connect\n", w.name);
      return 1;
    }
  std::vector<char> blob(6'600'000);
  for (std::size_t i = 0; i < blob.size(); ++i)
    blob[i] = static_cast<char>(i * 131);
  for (auto& w : ways)
    for (int i = 0; i < 2; ++i)
      once(w.client, *w.remote, blob); // warm-up
  for (int r = 0; r < rounds; ++r)
    for (auto& w : ways)
      for (int i = 0; i < per_round; ++i) {
        auto cpu = guard_cpu_ms();
        w.ms.push_back(once(w.client, *w.remote, blob));
        w.guard_ms += guard_cpu_ms() - cpu;
      }
  std::printf("6.6 MB echo round trip, %d samples each (ms): median [p10, p90], guard thread CPU per round trip\n",
              rounds * per_round);
  for (auto& w : ways) {
    std::sort(w.ms.begin(), w.ms.end());
    auto at = [&](double q) { return w.ms[static_cast<std::size_t>(q * (w.ms.size() - 1))]; };
    std::printf("  %-26s %7.1f  [%6.1f, %6.1f]  %5.1f\n", w.name, at(0.5), at(0.1), at(0.9),
                w.guard_ms / static_cast<double>(w.ms.size()));
  }
  plain_guard->stop();
  tls_guard->stop();
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  std::filesystem::remove_all(dir);
  std::fflush(stdout);
  std::_Exit(0); // CAF's published actors keep ~actor_system waiting (docs/caf-notes.md §9)
}
