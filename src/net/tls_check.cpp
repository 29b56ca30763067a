#include "net/tls_check.hpp"

#include <filesystem>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "common/small_file.hpp"
namespace flotilla::net {

namespace {

struct file_closer {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};
struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using x509_ptr = std::unique_ptr<X509, x509_free>;

std::unique_ptr<std::FILE, file_closer> open_file(const char* what, const std::string& path) {
  if (path.empty())
    throw tls_error(std::string("TLS ") + what + ": no file given (TLS needs a certificate, its key and the CA; "
                    "scripts/make-certs.sh makes them)");
  // PEM files are small regular files; a device or pipe (/dev/zero) would be read without end.
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !is_small_regular_file(path, 1u << 20))
    throw tls_error(std::string("TLS ") + what + " '" + path + "' is not a PEM file of at most 1 MiB");
  std::unique_ptr<std::FILE, file_closer> f{std::fopen(path.c_str(), "rb")};
  if (!f)
    throw tls_error(std::string("TLS ") + what + " '" + path + "' cannot be read: " + std::strerror(errno));
  return f;
}

// Every certificate in a PEM file, in file order.
std::vector<x509_ptr> read_certificates(std::FILE* f) {
  std::vector<x509_ptr> out;
  while (auto* x = PEM_read_X509(f, nullptr, nullptr, nullptr))
    out.emplace_back(x);
  ERR_clear_error(); // the loop ends on a "no start line" error
  return out;
}

// A passphrase callback that supplies none, so an encrypted key fails instead of prompting.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

} // namespace

void check_tls_files(const std::string& cert, const std::string& key, const std::string& ca) {
  auto cert_file = open_file("certificate", cert);
  auto key_file = open_file("key", key);
  auto ca_file = open_file("CA file", ca);

  auto chain = read_certificates(cert_file.get());
  if (chain.empty())
    throw tls_error("TLS certificate '" + cert + "' holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)");
  std::unique_ptr<EVP_PKEY, pkey_free> pkey{PEM_read_PrivateKey(key_file.get(), nullptr, no_passphrase, nullptr)};
  ERR_clear_error();
  if (!pkey)
    throw tls_error("TLS key '" + key + "' holds no unencrypted PEM private key (make it with openssl -nodes, "
                    "as scripts/make-certs.sh does)");
  auto authorities = read_certificates(ca_file.get());
  if (authorities.empty())
    throw tls_error("TLS CA file '" + ca + "' holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)");

  if (X509_check_private_key(chain.front().get(), pkey.get()) != 1) {
    ERR_clear_error();
    throw tls_error("TLS key '" + key + "' does not match certificate '" + cert +
                    "' (give the key that was made together with this certificate)");
  }

  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store{X509_STORE_new(), X509_STORE_free};
  for (auto& a : authorities)
    X509_STORE_add_cert(store.get(), a.get());
  struct stack_free {
    void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); } // a macro: no function pointer
  };
  std::unique_ptr<STACK_OF(X509), stack_free> untrusted{sk_X509_new_null()};
  for (std::size_t i = 1; i < chain.size(); ++i)
    sk_X509_push(untrusted.get(), chain[i].get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx{X509_STORE_CTX_new(), X509_STORE_CTX_free};
  if (!store || !untrusted || !ctx || X509_STORE_CTX_init(ctx.get(), store.get(), chain.front().get(), untrusted.get()) != 1)
    throw tls_error("TLS: out of memory while checking '" + cert + "'");
  if (X509_verify_cert(ctx.get()) != 1) {
    auto reason = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
    ERR_clear_error();
    throw tls_error("TLS certificate '" + cert + "' does not verify against the CA in '" + ca + "': " + reason +
                    " (use a certificate signed by this deployment's CA)");
  }
}

} // namespace flotilla::net
