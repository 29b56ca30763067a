#include "net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/tls_check.hpp"

namespace flotilla::net {

void ssl_ctx_free::operator()(SSL_CTX* ctx) const {
  SSL_CTX_free(ctx);
}

namespace {

std::string openssl_errors() {
  std::string out;
  while (auto e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out;
}

} // namespace

ssl_ctx_ptr make_server_tls_context(const std::string& cert, const std::string& key, const std::string& ca) {
  check_tls_files(cert, key, ca);
  ssl_ctx_ptr ctx{SSL_CTX_new(TLS_server_method())};
  if (!ctx)
    throw tls_error("TLS: cannot create an OpenSSL context: " + openssl_errors());
  auto fail = [&](const std::string& what) { throw tls_error("TLS: " + what + ": " + openssl_errors()); };
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1)
    fail("cannot require TLS 1.2");
  // Same list as CAF's authenticated mode (libcaf_openssl session.cpp), so its clients agree.
  if (SSL_CTX_set_cipher_list(ctx.get(), "HIGH:!aNULL:!MD5") != 1)
    fail("cannot set the cipher list");
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1)
    fail("cannot load certificate '" + cert + "'");
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1)
    fail("cannot load key '" + key + "'");
  if (SSL_CTX_load_verify_locations(ctx.get(), ca.c_str(), nullptr) != 1)
    fail("cannot load CA '" + ca + "'");
  if (auto* names = SSL_load_client_CA_file(ca.c_str()))
    SSL_CTX_set_client_CA_list(ctx.get(), names);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // No tickets: CAF clients never resume, and tickets are post-handshake bytes they must read.
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Partial writes and moving buffers suit a relay buffer that is compacted between calls;
  // released buffers keep idle connections small.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  // Read several records per read(2); the relay reads until OpenSSL wants more, so bytes
  // OpenSSL holds are never left waiting for an epoll event that will not come.
  SSL_CTX_set_read_ahead(ctx.get(), 1);
  SSL_CTX_set_default_read_buffer_len(ctx.get(), 64u << 10);
  return ctx;
}

} // namespace flotilla::net
