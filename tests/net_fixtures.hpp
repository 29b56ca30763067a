#pragma once
// Shared pieces of the guard tests: actor systems, certificates, raw hostile peers.
#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "net/basp_frame.hpp"

namespace flotilla::test {

using std::chrono::steady_clock;

inline double seconds_since(steady_clock::time_point t) {
  return std::chrono::duration<double>(steady_clock::now() - t).count();
}

/// True once `pred` holds (the guard counts a close just after the peer sees it).
template <class Pred>
inline bool eventually(Pred pred, double timeout_s = 1.0) {
  auto start = steady_clock::now();
  while (!pred()) {
    if (seconds_since(start) > timeout_s)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

/// Certificates for one deployment (ca, node, client) and a rogue CA with its own node.
struct cert_set {
  temp_dir dir;
  std::string ca, node_pem, node_key, client_pem, client_key, rogue_ca, rogue_pem, rogue_key;
  cert_set() {
    auto script = std::string(FLOTILLA_SOURCE_DIR) + "/scripts/make-certs.sh";
    auto good = dir.file("good"), bad = dir.file("rogue");
    auto rc = std::system(("bash " + script + " " + good + " node client >/dev/null && bash " + script + " " + bad +
                           " node >/dev/null").c_str());
    REQUIRE(rc == 0);
    ca = good + "/ca.pem";
    node_pem = good + "/node.pem";
    node_key = good + "/node.key";
    client_pem = good + "/client.pem";
    client_key = good + "/client.key";
    rogue_ca = bad + "/ca.pem";
    rogue_pem = bad + "/node.pem";
    rogue_key = bad + "/node.key";
  }
};

/// An actor system config for guard tests: middleman, 2 scheduler threads, no heartbeats,
/// and, when cert/key/ca are given, CAF's openssl module with them (client side).
struct net_config : caf::actor_system_config {
  net_config(const std::string& cert = "", const std::string& key = "", const std::string& ca = "") {
    load<caf::io::middleman>();
    if (!cert.empty() || !key.empty() || !ca.empty()) {
      load<caf::openssl::manager>();
      if (!cert.empty())
        set("openssl.certificate", cert);
      if (!key.empty())
        set("openssl.key", key);
      if (!ca.empty())
        set("openssl.cafile", ca);
    }
    set("scheduler.max-threads", std::size_t{2});
    set("logger.console", caf::atom("none"));
  }
};

/// Answers a byte blob with the same blob, and an int with the int plus one.
inline caf::behavior echo_actor() {
  return {
    [](const std::vector<char>& blob) { return blob; },
    [](int x) { return x + 1; },
  };
}

/// A 6.6 MB blob (the size of the project's largest model message) with a varying pattern.
inline std::vector<char> model_sized_blob() {
  std::vector<char> blob(6'600'000);
  for (std::size_t i = 0; i < blob.size(); ++i)
    blob[i] = static_cast<char>(i * 131 + (i >> 13));
  return blob;
}

/// Asks `remote` for x + 1; true if the answer came within 10 s.
inline bool answers(caf::actor_system& sys, const caf::actor& remote) {
  caf::scoped_actor self{sys};
  bool ok = false;
  self->request(remote, std::chrono::seconds(10), 41).receive([&](int y) { ok = y == 42; }, [](caf::error&) {});
  return ok;
}

/// Sends the blob to `remote`'s echo and checks what comes back; returns the round trip in s.
inline double echo_round_trip(caf::actor_system& sys, const caf::actor& remote, const std::vector<char>& blob) {
  caf::scoped_actor self{sys};
  bool same = false;
  auto start = steady_clock::now();
  self->request(remote, std::chrono::seconds(30), blob)
    .receive([&](const std::vector<char>& back) { same = back == blob; },
             [&](caf::error& e) { FAIL("echo failed: " << sys.render(e)); });
  auto t = seconds_since(start);
  CHECK(same);
  return t;
}

/// Median of `n` echo round trips after two warm-ups.
inline double median_round_trip(caf::actor_system& sys, const caf::actor& remote, const std::vector<char>& blob,
                                int n) {
  std::vector<double> ts;
  for (int i = 0; i < n + 2; ++i) {
    auto t = echo_round_trip(sys, remote, blob);
    if (i >= 2)
      ts.push_back(t);
  }
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

/// Resident set size of this process.
inline std::size_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2)
      resident = 0;
    std::fclose(f);
  }
  return static_cast<std::size_t>(resident) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

/// A blocking TCP connection to 127.0.0.1:port (closed on destruction).
class raw_peer {
public:
  explicit raw_peer(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~raw_peer() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;
  raw_peer(raw_peer&& o) noexcept : fd_(o.fd_), connected_(o.connected_) { o.fd_ = -1; }

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  /// False once the other side closed the connection.
  bool send(const std::vector<std::uint8_t>& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  /// Reads and drops whatever arrives; true if the other side closed within `timeout_s`.
  bool closed_within(double timeout_s) {
    auto start = steady_clock::now();
    char buf[4096];
    for (;;) {
      auto left = timeout_s - seconds_since(start);
      if (left <= 0)
        return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left * 1000) + 1) <= 0)
        continue;
      auto k = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
      if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
        return true;
    }
  }

private:
  int fd_ = -1;
  bool connected_ = false;
};

/// Bytes of a BASP header.
inline std::vector<std::uint8_t> basp_header_bytes(net::basp_operation op, std::uint32_t payload_len,
                                                   std::uint64_t dest = 0) {
  net::basp_header h;
  h.operation = static_cast<std::uint8_t>(op);
  h.payload_len = payload_len;
  h.dest_actor = dest;
  std::vector<std::uint8_t> out(net::basp_header_size);
  net::write_basp_header(h, out.data());
  return out;
}

/// A client handshake as CAF writes it: the header, then a made-up node id.
inline std::vector<std::uint8_t> client_handshake_bytes(std::uint32_t pid = 4711) {
  auto nid = caf::make_node_id(pid, "0123456789abcdef0123456789abcdef01234567");
  REQUIRE(nid);
  std::vector<char> payload;
  caf::binary_serializer sink{nullptr, payload};
  REQUIRE(!sink(*nid));
  auto out = basp_header_bytes(net::basp_operation::client_handshake, static_cast<std::uint32_t>(payload.size()));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

} // namespace flotilla::test
