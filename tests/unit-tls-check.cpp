// TLS files are checked at start-up with messages naming the file and the fault, because
// CAF 0.17.6 only notices at the first connection (and then aborts or hangs).
#include <doctest/doctest.h>

#include <fstream>

#include "net/tls_check.hpp"
#include "net/tls_context.hpp"
#include "net_fixtures.hpp"

using namespace flotilla;
using namespace flotilla::test;
using net::check_tls_files;
using net::tls_error;

namespace {

const cert_set& certs() {
  static cert_set c;
  return c;
}

std::string write_file(const std::string& name, const std::string& text) {
  auto path = certs().dir.file(name);
  std::ofstream(path) << text;
  return path;
}

} // namespace

TEST_CASE("a matching certificate, key and CA pass") {
  auto& c = certs();
  CHECK_NOTHROW(check_tls_files(c.node_pem, c.node_key, c.ca));
  CHECK_NOTHROW(check_tls_files(c.client_pem, c.client_key, c.ca));
  CHECK_NOTHROW(check_tls_files(c.rogue_pem, c.rogue_key, c.rogue_ca));
}

TEST_CASE("a key that belongs to another certificate is refused") {
  auto& c = certs();
  CHECK_THROWS_WITH_AS(check_tls_files(c.node_pem, c.client_key, c.ca),
                       ("TLS key '" + c.client_key + "' does not match certificate '" + c.node_pem +
                        "' (give the key that was made together with this certificate)")
                         .c_str(),
                       tls_error);
  // The guard's TLS context runs the same check before it listens.
  CHECK_THROWS_WITH_AS(net::make_server_tls_context(c.node_pem, c.client_key, c.ca),
                       ("TLS key '" + c.client_key + "' does not match certificate '" + c.node_pem +
                        "' (give the key that was made together with this certificate)")
                         .c_str(),
                       tls_error);
}

// make-certs.sh names every CA "flotilla-ca", so OpenSSL finds the issuer by name and then the
// signature fails; either way the message names both files.
TEST_CASE("a certificate from another CA is refused") {
  auto& c = certs();
  CHECK_THROWS_WITH_AS(check_tls_files(c.rogue_pem, c.rogue_key, c.ca),
                       ("TLS certificate '" + c.rogue_pem + "' does not verify against the CA in '" + c.ca +
                        "': certificate signature failure (use a certificate signed by this deployment's CA)")
                         .c_str(),
                       tls_error);
  CHECK_THROWS_WITH_AS(check_tls_files(c.node_pem, c.node_key, c.rogue_ca),
                       ("TLS certificate '" + c.node_pem + "' does not verify against the CA in '" + c.rogue_ca +
                        "': certificate signature failure (use a certificate signed by this deployment's CA)")
                         .c_str(),
                       tls_error);
}

TEST_CASE("missing, unreadable and mixed-up files are named") {
  auto& c = certs();
  auto missing = c.dir.file("nowhere.key");
  CHECK_THROWS_WITH_AS(check_tls_files(c.node_pem, missing, c.ca),
                       ("TLS key '" + missing + "' cannot be read: No such file or directory").c_str(), tls_error);
  CHECK_THROWS_WITH_AS(check_tls_files("", c.node_key, c.ca),
                       "TLS certificate: no file given (TLS needs a certificate, its key and the CA; "
                       "scripts/make-certs.sh makes them)",
                       tls_error);
  auto text = write_file("notes.txt", "not a certificate\n");
  CHECK_THROWS_WITH_AS(check_tls_files(text, c.node_key, c.ca),
                       ("TLS certificate '" + text +
                        "' holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)")
                         .c_str(),
                       tls_error);
  // The certificate given as key, and the key given as CA.
  CHECK_THROWS_WITH_AS(check_tls_files(c.node_pem, c.node_pem, c.ca),
                       ("TLS key '" + c.node_pem +
                        "' holds no unencrypted PEM private key (make it with openssl -nodes, as "
                        "scripts/make-certs.sh does)")
                         .c_str(),
                       tls_error);
  CHECK_THROWS_WITH_AS(check_tls_files(c.node_pem, c.node_key, c.node_key),
                       ("TLS CA file '" + c.node_key +
                        "' holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)")
                         .c_str(),
                       tls_error);
}

TEST_CASE("an encrypted key is refused instead of prompting for a passphrase") {
  auto& c = certs();
  auto encrypted = c.dir.file("encrypted.key");
  auto rc = std::system(("openssl pkey -in " + c.node_key + " -aes256 -passout pass:secret -out " + encrypted +
                         " 2>/dev/null").c_str());
  REQUIRE(rc == 0);
  CHECK_THROWS_WITH_AS(check_tls_files(c.node_pem, encrypted, c.ca),
                       ("TLS key '" + encrypted +
                        "' holds no unencrypted PEM private key (make it with openssl -nodes, as "
                        "scripts/make-certs.sh does)")
                         .c_str(),
                       tls_error);
}
