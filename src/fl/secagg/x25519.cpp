#include "fl/secagg/x25519.hpp"

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace flotilla::fl::secagg {
namespace {

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct pkey_ctx_free {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct cipher_free {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_free>;
using cipher_ptr = std::unique_ptr<EVP_CIPHER_CTX, cipher_free>;

[[noreturn]] void openssl_failed(const char* what) {
  throw std::runtime_error(std::string("secagg: OpenSSL failed to ") + what);
}

pkey_ptr private_key(const key32& sk) {
  pkey_ptr k(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, sk.data(), sk.size()));
  if (!k)
    openssl_failed("load an X25519 secret key");
  return k;
}

// HKDF-SHA256(salt = round context, ikm = shared point, info = label) to 32 bytes. The label
// separates the mask seed from the channel key even when both came from the same point.
key32 hkdf(const key32& shared, const key32& round_context, const char* label) {
  pkey_ctx_ptr c(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  key32 out{};
  std::size_t outlen = out.size();
  if (!c || EVP_PKEY_derive_init(c.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(c.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(c.get(), round_context.data(), round_context.size()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(c.get(), shared.data(), shared.size()) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(c.get(), reinterpret_cast<const unsigned char*>(label),
                                  static_cast<int>(std::strlen(label))) != 1 ||
      EVP_PKEY_derive(c.get(), out.data(), &outlen) != 1 || outlen != out.size())
    openssl_failed("derive an HKDF-SHA256 key");
  return out;
}

// 96-bit GCM nonce from the direction of the message; AAD = label || context || from || to.
void nonce_and_aad(std::uint32_t from, std::uint32_t to, const key32& round_context,
                   std::uint8_t nonce[12], std::vector<std::uint8_t>& aad) {
  std::memset(nonce, 0, 12);
  for (int i = 0; i < 4; ++i) {
    nonce[i] = static_cast<std::uint8_t>(from >> (8 * i));
    nonce[4 + i] = static_cast<std::uint8_t>(to >> (8 * i));
  }
  static const char label[] = "flotilla secagg share channel v1";
  aad.assign(label, label + sizeof label - 1);
  aad.insert(aad.end(), round_context.begin(), round_context.end());
  aad.insert(aad.end(), nonce, nonce + 8);
}

} // namespace

keypair generate_keypair(const random_source& random) {
  keypair kp;
  random(kp.secret_key.data(), kp.secret_key.size());
  kp.public_key = public_key_of(kp.secret_key);
  return kp;
}

key32 public_key_of(const key32& secret_key) {
  pkey_ptr k = private_key(secret_key);
  key32 pk{};
  std::size_t len = pk.size();
  if (EVP_PKEY_get_raw_public_key(k.get(), pk.data(), &len) != 1 || len != pk.size())
    openssl_failed("compute an X25519 public key");
  return pk;
}

key32 agree(const key32& own_secret_key, const key32& peer_public_key) {
  pkey_ptr own = private_key(own_secret_key);
  pkey_ptr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public_key.data(),
                                            peer_public_key.size()));
  if (!peer)
    openssl_failed("load an X25519 public key");
  pkey_ctx_ptr c(EVP_PKEY_CTX_new(own.get(), nullptr));
  key32 shared{};
  std::size_t len = shared.size();
  if (!c || EVP_PKEY_derive_init(c.get()) != 1 || EVP_PKEY_derive_set_peer(c.get(), peer.get()) != 1)
    openssl_failed("set up X25519 key agreement");
  // OpenSSL refuses an all-zero result itself; the second check keeps that promise explicit.
  const bool ok = EVP_PKEY_derive(c.get(), shared.data(), &len) == 1 && len == shared.size();
  if (!ok || shared == key32{})
    throw std::invalid_argument("secagg: X25519 agreement gave no secret: the peer's public key "
                                "is a low-order point; treat that member as malicious");
  return shared;
}

key32 derive_mask_seed(const key32& shared, const key32& round_context) {
  return hkdf(shared, round_context, "flotilla secagg pairwise mask v1");
}

key32 derive_share_key(const key32& shared, const key32& round_context) {
  return hkdf(shared, round_context, "flotilla secagg share key v1");
}

std::vector<std::uint8_t> seal(const key32& key, std::uint32_t from, std::uint32_t to,
                               const key32& round_context, const std::vector<std::uint8_t>& plaintext) {
  std::uint8_t nonce[12];
  std::vector<std::uint8_t> aad;
  nonce_and_aad(from, to, round_context, nonce, aad);
  cipher_ptr c(EVP_CIPHER_CTX_new());
  std::vector<std::uint8_t> out(plaintext.size() + seal_overhead);
  int len = 0;
  if (!c || EVP_EncryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) != 1 ||
      EVP_EncryptInit_ex(c.get(), nullptr, nullptr, key.data(), nonce) != 1 ||
      EVP_EncryptUpdate(c.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(c.get(), out.data(), &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(c.get(), out.data() + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, 16, out.data() + plaintext.size()) != 1)
    openssl_failed("encrypt with AES-256-GCM");
  return out;
}

std::vector<std::uint8_t> open(const key32& key, std::uint32_t from, std::uint32_t to,
                               const key32& round_context, const std::vector<std::uint8_t>& sealed) {
  if (sealed.size() < seal_overhead)
    throw std::invalid_argument("secagg: a sealed share is shorter than its 16-byte tag");
  std::uint8_t nonce[12];
  std::vector<std::uint8_t> aad;
  nonce_and_aad(from, to, round_context, nonce, aad);
  const std::size_t n = sealed.size() - seal_overhead;
  std::vector<std::uint8_t> out(n);
  std::uint8_t tag[16];
  std::memcpy(tag, sealed.data() + n, 16);
  cipher_ptr c(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!c || EVP_DecryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) != 1 ||
      EVP_DecryptInit_ex(c.get(), nullptr, nullptr, key.data(), nonce) != 1 ||
      EVP_DecryptUpdate(c.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(c.get(), out.data(), &len, sealed.data(), static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, 16, tag) != 1)
    openssl_failed("set up AES-256-GCM decryption");
  if (EVP_DecryptFinal_ex(c.get(), out.data() + len, &len) != 1)
    throw std::invalid_argument("secagg: a share from member " + std::to_string(from) + " to " +
                                std::to_string(to) +
                                " failed authentication (wrong key, round or tampered bytes)");
  return out;
}

} // namespace flotilla::fl::secagg
