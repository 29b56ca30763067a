#include "fl/secagg/model_registry.hpp"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace flotilla::fl::secagg {
namespace {

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;

// What is signed: a domain label, the session (little-endian) and the model's digest, so a
// registration signs nothing else the key might be used for and names exactly one round.
std::vector<std::uint8_t> message(std::uint64_t session, const digest32& model_hash) {
  static const char label[] = "flotilla model registration v1";
  std::vector<std::uint8_t> m(label, label + sizeof label - 1);
  for (int i = 0; i < 8; ++i)
    m.push_back(static_cast<std::uint8_t>(session >> (8 * i)));
  m.insert(m.end(), model_hash.begin(), model_hash.end());
  return m;
}

} // namespace

model_registrar::model_registrar(const random_source& random) {
  random(secret_key_.data(), secret_key_.size());
  pkey_ptr k(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, secret_key_.data(), secret_key_.size()));
  std::size_t n = public_key_.size();
  if (!k || EVP_PKEY_get_raw_public_key(k.get(), public_key_.data(), &n) != 1 || n != public_key_.size())
    throw std::runtime_error("secagg: OpenSSL failed to make an Ed25519 key pair");
}

signature64 model_registrar::sign(std::uint64_t session, const digest32& model_hash) const {
  pkey_ptr k(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, secret_key_.data(), secret_key_.size()));
  md_ctx_ptr c(EVP_MD_CTX_new());
  auto m = message(session, model_hash);
  signature64 sig{};
  std::size_t n = sig.size();
  if (!k || !c || EVP_DigestSignInit(c.get(), nullptr, nullptr, nullptr, k.get()) != 1 ||
      EVP_DigestSign(c.get(), sig.data(), &n, m.data(), m.size()) != 1 || n != sig.size())
    throw std::runtime_error("secagg: OpenSSL failed to sign a model registration (Ed25519)");
  return sig;
}

bool verify_registration(const key32& public_key, std::uint64_t session, const digest32& model_hash,
                         const signature64& signature) {
  pkey_ptr k(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  md_ctx_ptr c(EVP_MD_CTX_new());
  if (!k || !c || EVP_DigestVerifyInit(c.get(), nullptr, nullptr, nullptr, k.get()) != 1)
    return false;
  auto m = message(session, model_hash);
  return EVP_DigestVerify(c.get(), signature.data(), signature.size(), m.data(), m.size()) == 1;
}

std::string key_hex(const key32& key) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : key) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

std::optional<key32> key_from_hex(const std::string& text) {
  if (text.size() != 64)
    return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    return -1;
  };
  key32 key{};
  for (std::size_t i = 0; i < key.size(); ++i) {
    int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    key[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return key;
}

} // namespace flotilla::fl::secagg
