#pragma once
// Pairwise secrets between members: X25519 key agreement (RFC 7748, OpenSSL EVP_PKEY_X25519),
// HKDF-SHA256 (RFC 5869) from the shared point to (a) the seed of the pairwise mask and (b) the
// AES-256-GCM key of the channel that carries Shamir shares through the server, and that channel
// itself (seal/open). Bonawitz et al. keep two key pairs per member, c for the channel and s for
// the masks, so revealing s_sk of a dropped member never opens the shares it was sent.
//
// Every derivation is bound to a 32-byte round context (cluster, round, model: the caller's
// choice) through HKDF's salt, so keys, masks and ciphertexts of one round are useless in any other.
#include <cstdint>
#include <vector>

#include "fl/secagg/prg.hpp"

namespace flotilla::fl::secagg {

struct keypair {
  key32 secret_key;
  key32 public_key;
};

/// A key pair whose secret is the next 32 bytes of `random` (clamped by X25519 itself). Pass
/// os_random() in real runs; seeded_random() gives the same pair every time, for tests.
keypair generate_keypair(const random_source& random);

/// The public key of a secret key.
key32 public_key_of(const key32& secret_key);

/// X25519(own secret, peer public): the same 32 bytes on both sides. Throws std::invalid_argument
/// when the result is all zero (the peer sent a low-order point, RFC 7748 section 6.1).
key32 agree(const key32& own_secret_key, const key32& peer_public_key);

/// The seed of the pairwise mask between two members, from their s-key agreement.
key32 derive_mask_seed(const key32& shared, const key32& round_context);
/// The AES-256-GCM key of the share channel between two members, from their c-key agreement.
key32 derive_share_key(const key32& shared, const key32& round_context);

/// AES-256-GCM encryption of `plaintext` from member `from` to member `to`: ciphertext then the
/// 16-byte tag. The nonce is (from, to), never sent: a channel key is derived fresh per round and
/// per pair, and each direction of a pair seals exactly one message, so nonces never repeat.
/// `from`, `to` and the context are also authenticated (the associated data).
std::vector<std::uint8_t> seal(const key32& key, std::uint32_t from, std::uint32_t to,
                               const key32& round_context, const std::vector<std::uint8_t>& plaintext);
/// The inverse of seal. Throws std::invalid_argument when the tag does not verify (wrong key,
/// wrong sender or recipient, other round, or bytes changed in transit).
std::vector<std::uint8_t> open(const key32& key, std::uint32_t from, std::uint32_t to,
                               const key32& round_context, const std::vector<std::uint8_t>& sealed);

/// Bytes seal adds to a plaintext: the 16-byte tag.
constexpr std::size_t seal_overhead = 16;

} // namespace flotilla::fl::secagg
