#pragma once
#include <memory>
#include <string>

typedef struct ssl_ctx_st SSL_CTX;

namespace flotilla::net {

struct ssl_ctx_free {
  void operator()(SSL_CTX* ctx) const;
};
/// An owned OpenSSL context.
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_free>;

/// The context the guard accepts TLS with: the node's certificate and key, peers must show a
/// certificate that verifies against `ca` (mutual TLS, as CAF's openssl module does when
/// certificates are configured), TLS 1.2 or newer, no anonymous or MD5 ciphers, no session
/// tickets or renegotiation. Runs check_tls_files first; throws tls_error.
ssl_ctx_ptr make_server_tls_context(const std::string& cert, const std::string& key, const std::string& ca);

} // namespace flotilla::net
