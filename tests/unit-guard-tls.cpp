// The guard terminating mutual TLS for a node, live on 127.0.0.1: CAF's own TLS clients
// (caf::openssl::remote_actor) work through it; peers without a certificate from the
// deployment's CA are refused at the handshake; idle and hostile peers are closed.
#include <doctest/doctest.h>

#include <openssl/ssl.h>

#include <memory>

#include "net/guard.hpp"
#include "net/tls_check.hpp"
#include "net_fixtures.hpp"

using namespace flotilla;
using namespace flotilla::test;
using net::basp_operation;

namespace {

const cert_set& certs() {
  static cert_set c;
  return c;
}

/// A TLS node (echo actor behind a guard that holds the node certificate).
struct tls_node {
  net_config server_cfg;
  std::unique_ptr<caf::actor_system> server;
  caf::actor echo;
  std::unique_ptr<net::guard> guard;

  explicit tls_node(net::guard_options options = {}) {
    options.cert = certs().node_pem;
    options.key = certs().node_key;
    options.ca = certs().ca;
    server = std::make_unique<caf::actor_system>(server_cfg);
    echo = server->spawn(echo_actor);
    options.message_types.allow_opaque("@charbuf"); // the echo actor's byte blobs (see unit-guard.cpp)
    guard = net::guard::start(*server, echo, options);
  }
  ~tls_node() {
    guard->stop();
    caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  }
};

/// A client actor system with CAF's openssl module set up with the given files.
struct tls_client {
  net_config cfg;
  caf::actor_system sys;
  tls_client(const std::string& cert, const std::string& key, const std::string& ca) : cfg(cert, key, ca), sys(cfg) {}
  caf::expected<caf::actor> connect(std::uint16_t port) { return caf::openssl::remote_actor(sys, "127.0.0.1", port); }
};

/// A blocking OpenSSL client with the deployment's client certificate: an authenticated
/// peer that then misbehaves at the BASP level.
class tls_raw_peer {
public:
  explicit tls_raw_peer(std::uint16_t port, bool with_certificate = true) : tcp_(port) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (with_certificate) {
      SSL_CTX_use_certificate_chain_file(ctx_, certs().client_pem.c_str());
      SSL_CTX_use_PrivateKey_file(ctx_, certs().client_key.c_str(), SSL_FILETYPE_PEM);
    }
    SSL_CTX_load_verify_locations(ctx_, certs().ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, tcp_.fd());
    ok_ = SSL_connect(ssl_) == 1;
  }
  ~tls_raw_peer() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  bool handshake_ok() const { return ok_; }
  bool send(const std::vector<std::uint8_t>& bytes) {
    std::size_t n = 0;
    return SSL_write_ex(ssl_, bytes.data(), bytes.size(), &n) == 1 && n == bytes.size();
  }
  /// True if the guard ended the connection within `timeout_s` (reads and drops the rest).
  bool closed_within(double timeout_s) {
    auto start = steady_clock::now();
    char buf[4096];
    while (seconds_since(start) < timeout_s) {
      pollfd p{tcp_.fd(), POLLIN, 0};
      if (SSL_pending(ssl_) == 0 && ::poll(&p, 1, 50) <= 0)
        continue;
      std::size_t n = 0;
      if (SSL_read_ex(ssl_, buf, sizeof(buf), &n) != 1)
        return true;
    }
    return false;
  }

private:
  raw_peer tcp_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
};

} // namespace

TEST_CASE("a CAF TLS client reaches the published actor through the guard with 6.6 MB both ways") {
  tls_node node;
  CHECK(node.guard->tls());
  tls_client client{certs().client_pem, certs().client_key, certs().ca};
  auto remote = client.connect(node.guard->port());
  if (!remote)
    FAIL("TLS remote_actor through the guard failed: " << client.sys.render(remote.error()));
  CHECK(answers(client.sys, *remote));
  auto t = median_round_trip(client.sys, *remote, model_sized_blob(), 5);
  MESSAGE("6.6 MB echo through the TLS guard: median " << t * 1e3 << " ms");
  CHECK(node.guard->stats().tls_failures == 0);
}

TEST_CASE("peers without a certificate from the deployment's CA are refused at the TLS handshake") {
  tls_node node;
  auto port = node.guard->port();
  SUBCASE("a plain-TCP CAF client") {
    net_config cfg;
    caf::actor_system sys{cfg};
    CHECK(!sys.middleman().remote_actor("127.0.0.1", port));
  }
  SUBCASE("an anonymous CAF TLS client (CAF's default without certificates)") {
    net_config cfg;
    cfg.load<caf::openssl::manager>();
    caf::actor_system sys{cfg};
    CHECK(!caf::openssl::remote_actor(sys, "127.0.0.1", port));
  }
  SUBCASE("a TLS client without a certificate") {
    // CAF refuses to build one (a CA alone is "no certificate configured"); plain OpenSSL can.
    tls_raw_peer peer{port, /*with_certificate=*/false};
    if (peer.handshake_ok()) // TLS 1.3: the server judges the client's certificate after "finished"
      CHECK((!peer.send(client_handshake_bytes()) || peer.closed_within(1.0)));
  }
  SUBCASE("a TLS client whose certificate another CA signed") {
    tls_client client{certs().rogue_pem, certs().rogue_key, certs().ca};
    CHECK(!client.connect(port));
  }
  SUBCASE("plain BASP bytes") {
    raw_peer peer{port};
    CHECK(peer.send(client_handshake_bytes()));
    CHECK(peer.closed_within(1.0));
  }
  CHECK(eventually([&] { return node.guard->stats().tls_failures == 1; }));
  CHECK(node.guard->stats().authenticated == 0);
  // And the node still serves its own deployment.
  tls_client good{certs().client_pem, certs().client_key, certs().ca};
  auto remote = good.connect(port);
  REQUIRE(remote);
  CHECK(answers(good.sys, *remote));
}

TEST_CASE("idle TLS connections are closed at the handshake deadline") {
  net::guard_options options;
  options.handshake_timeout_s = 1.0;
  options.max_pending_handshakes = 256;
  tls_node node{options};
  auto before = rss_bytes();
  std::vector<raw_peer> idle;
  auto start = steady_clock::now();
  for (int i = 0; i < 200; ++i)
    idle.emplace_back(node.guard->port());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(node.guard->stats().handshaking == 200);
  auto held = static_cast<double>(rss_bytes()) - static_cast<double>(before);
  MESSAGE("RSS change while 200 idle TLS connections are held: " << held / (1 << 20) << " MiB");
  CHECK(held < 16.0 * (1 << 20));
  double last = 0;
  for (auto& p : idle) {
    CHECK(p.closed_within(3.0));
    last = std::max(last, seconds_since(start));
  }
  MESSAGE("200 idle TLS connections closed by " << last << " s (deadline 1 s)");
  CHECK(last < 1.6);
  CHECK(eventually([&] { return node.guard->stats().handshake_timeouts == 200; }));
}

TEST_CASE("an authenticated peer announcing 4 GiB is closed and the node allocates nothing") {
  tls_node node;
  tls_client client{certs().client_pem, certs().client_key, certs().ca};
  auto remote = client.connect(node.guard->port());
  REQUIRE(remote);
  CHECK(answers(client.sys, *remote));
  auto before = rss_bytes();
  for (std::uint32_t i = 0; i < 8; ++i) {
    tls_raw_peer peer{node.guard->port()};
    REQUIRE(peer.handshake_ok());
    auto bytes = client_handshake_bytes(200 + i);
    auto attack = basp_header_bytes(basp_operation::direct_message, 0xfffffff0u, 1);
    bytes.insert(bytes.end(), attack.begin(), attack.end());
    CHECK(peer.send(bytes));
    CHECK(peer.closed_within(2.0));
  }
  auto grown = static_cast<double>(rss_bytes()) - static_cast<double>(before);
  MESSAGE("RSS change after 8 authenticated TLS peers announcing 4 GiB: " << grown / (1 << 20) << " MiB");
  CHECK(grown < 8.0 * (1 << 20));
  CHECK(eventually([&] { return node.guard->stats().bad_frames == 8; }));
  CHECK(answers(client.sys, *remote));
}

TEST_CASE("a key that does not match its certificate stops the guard before it listens") {
  net_config cfg;
  caf::actor_system sys{cfg};
  auto echo = sys.spawn(echo_actor);
  net::guard_options o;
  o.cert = certs().node_pem;
  o.key = certs().client_key;
  o.ca = certs().ca;
  CHECK_THROWS_AS(net::guard::start(sys, echo, o), net::tls_error);
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
}
